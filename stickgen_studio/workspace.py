"""A workspace folder: datasets/, curated/, runs/, reports/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# stickgen_core's io and demo modules import torch: loaded when used, so that the studio's
# first window does not wait for them

DEFAULT_WORKSPACE = "stickgen-workspace"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def open(cls, path: str | Path) -> "Workspace":
        ws = cls(Path(path).expanduser().resolve())
        for sub in ("datasets", "curated", "runs", "reports"):
            (ws.root / sub).mkdir(parents=True, exist_ok=True)
        return ws

    @property
    def datasets_dir(self) -> Path:
        return self.root / "datasets"

    @property
    def curated_dir(self) -> Path:
        return self.root / "curated"

    @property
    def demo_dataset(self) -> Path:
        from stickgen_core.demo import DEMO_DATASET

        return self.root / DEMO_DATASET

    def dataset_files(self) -> list[Path]:
        from stickgen_core.io import DATASET_SUFFIXES

        return sorted(p for p in self.datasets_dir.iterdir() if p.suffix in DATASET_SUFFIXES and p.is_file())

    # ------------------------------------------------------------------ manifest
    # workspace.json remembers datasets added from outside the workspace and the ones the
    # user removed from view, so the workspace reopens as it was left.
    @property
    def manifest_path(self) -> Path:
        return self.root / "workspace.json"

    def manifest(self) -> dict:
        try:
            data = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return {"external": [], "hidden": []}
        if not isinstance(data, dict):
            return {"external": [], "hidden": []}
        return {k: [str(p) for p in data.get(k, []) if isinstance(p, str)] for k in ("external", "hidden")}

    def _save_manifest(self, data: dict) -> None:
        from stickgen_core.io import atomic_write_text

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
        return self.root / "curation.yaml"
