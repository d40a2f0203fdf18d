"""A workspace folder's layout: datasets/, curated/, runs/, reports/, workspace.json, curation.yaml.

The studio opens one; a script (or ``CurationSession``) uses the same paths, so both agree on where
datasets, curated splits, runs and reports live.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .limits import brief, read_json_file

log = logging.getLogger(__name__)

# the io and demo modules import torch: loaded when used, so that the studio's first window does
# not wait for them

DEFAULT_WORKSPACE = "stickgen-workspace"
SUBFOLDERS = ("datasets", "curated", "runs", "reports")
MANIFEST = "workspace.json"
THRESHOLDS_FILE = "curation.yaml"


@dataclass(frozen=True)
class Workspace:
    root: Path
    notices: tuple[str, ...] = field(default=(), compare=False)  # what opening it had to set aside

    @classmethod
    def open(cls, path: str | Path) -> "Workspace":
        """The workspace at ``path`` (its folders made); a workspace.json that cannot be read is set
        aside (``notices`` says so), never a reason not to open."""
        root = Path(path).expanduser().resolve()
        for sub in SUBFOLDERS:
            (root / sub).mkdir(parents=True, exist_ok=True)
        problem = cls(root).set_aside_bad_manifest()
        return cls(root, (problem,) if problem else ())

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def curated_dir(self) -> Path:
        return self.root / "curated"

    @property
    def runs_dir(self) -> Path:
        """One folder per training run (``runs/<run_id>/``, the jobs layer's registry)."""
        return self.root / "runs"

    @property
    def reports_dir(self) -> Path:
        """Evaluation reports (adversarial runs' JSON)."""
        return self.root / "reports"

    @property
    def demo_dataset(self) -> Path:
        from .demo import DEMO_DATASET

        return self.root / DEMO_DATASET

    def dataset_files(self) -> list[Path]:
        from .io import DATASET_SUFFIXES

        return sorted(p for p in self.datasets_dir.iterdir()  # files, and sharded packed sets (folders)
                      if (p.suffix in DATASET_SUFFIXES and p.is_file()) or (p / "index.json").is_file())

    # ------------------------------------------------------------------ manifest
    # workspace.json remembers datasets added from outside the workspace and the ones the
    # user removed from view, so the workspace reopens as it was left.
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def _read_manifest(self) -> dict:
        """workspace.json as the studio writes it; ConfigError naming the file and key otherwise."""
        data = read_json_file(self.manifest_path, "the workspace's workspace.json", ConfigError)  # bounded, depth-checked
        if not isinstance(data, dict):
            raise ConfigError(f"{self.manifest_path}: expected a JSON object with 'external' and 'hidden', "
                              f"got {type(data).__name__}")
        for key in ("external", "hidden"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
                raise ConfigError(f"{self.manifest_path}: {key}: expected a list of file paths, got {brief(value)}")
        return {k: list(data.get(k, [])) for k in ("external", "hidden")}

    def manifest(self) -> dict:
        """The remembered datasets; empty when workspace.json is missing or unreadable."""
        if not self.manifest_path.exists():
            return {"external": [], "hidden": []}
        try:
            return self._read_manifest()
        except ConfigError:
            return {"external": [], "hidden": []}

    def set_aside_bad_manifest(self) -> str | None:
        """Rename a workspace.json that cannot be read (damaged, too deep, a folder, wrong types) to
        ``workspace.json.bad-<time>``, so the workspace opens and saves afresh; what was done, or None."""
        path = self.manifest_path
        if not path.exists() and not path.is_symlink():
            return None
        try:
            self._read_manifest()
            return None
        except ConfigError as exc:
            problem = str(exc)
        aside = path.with_name(f"{path.name}.bad-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}")
        try:
            os.replace(path, aside)
        except OSError as exc:
            return f"{problem}; could not set it aside ({exc.strerror or exc})"
        log.warning("%s; set aside as %s", problem, aside.name)
        return f"{problem}. It was set aside as {aside.name}; the workspace opens without it."

    def _save_manifest(self, data: dict) -> None:
        from .io import atomic_write_text

        atomic_write_text(self.manifest_path, json.dumps(data, indent=2))

    def datasets(self) -> list[Path]:
        """Dataset files of the workspace folder and the remembered outside ones, minus removed ones."""
        m = self.manifest()
        hidden = set(m["hidden"])
        inside = [p for p in self.dataset_files() if str(p) not in hidden]
        outside = [Path(p) for p in m["external"] if p not in hidden and Path(p).is_file()]
        return list(dict.fromkeys(inside + outside))

    def remember(self, paths: list[str]) -> None:
        m = self.manifest()
        for p in map(lambda x: str(Path(x).resolve()), paths):
            if p in m["hidden"]:
                m["hidden"].remove(p)
            if Path(p).parent != self.datasets_dir and p not in m["external"]:
                m["external"].append(p)
        self._save_manifest(m)

    def forget(self, path: str) -> None:
        """Take a dataset out of the workspace's view (its file is left alone)."""
        m = self.manifest()
        p = str(Path(path).resolve())
        if p in m["external"]:
            m["external"].remove(p)
        elif p not in m["hidden"]:
            m["hidden"].append(p)
        self._save_manifest(m)

    @property
    def thresholds_path(self) -> Path:
        """Where the Curate page saves and loads its thresholds (a ``data_curation`` section)."""
        return self.root / THRESHOLDS_FILE
