"""A workspace folder: datasets/, curated/, runs/, reports/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stickgen_core.demo import DEMO_DATASET
from stickgen_core.io import DATASET_SUFFIXES

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
        return self.root / DEMO_DATASET

    def dataset_files(self) -> list[Path]:
        return sorted(p for p in self.datasets_dir.iterdir() if p.suffix in DATASET_SUFFIXES and p.is_file())
