"""Taking data in from elsewhere: which paths the Curate panel accepts, the file and folder
dialogs, and the background task that runs ``stickgen_core.convert.import_paths``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QWidget

from stickgen_core.io import DATASET_SUFFIXES

from ..workers import Task

if TYPE_CHECKING:  # the converters import torch: loaded by the task, off the GUI thread
    from stickgen_core.convert import ImportResult

FOREIGN_SUFFIXES = (".bvh", ".npy", ".pkl", ".skeleton")
FILE_FILTERS = ";;".join((
    "Motion data (*.pt *.pth *.arrow *.bvh *.npy *.pkl *.skeleton)",
    "Stick-Gen datasets, ours or the reference's (*.pt *.pth)",
    "Packed datasets (*.arrow)",  # a sharded set is a folder: "Add folder"
    "BVH motion capture (*.bvh)",
    "HumanML3D or KIT-ML joints (*.npy)",
    "AIST++ keypoints (*.pkl)",
    "NTU RGB+D skeletons (*.skeleton)",
    "All files (*)",
))
CONVERTED_DIR = ".converted"  # under the workspace's datasets folder; workspace.dataset_files() skips it


def accepts(path: str | Path) -> bool:
    """A path the panel can take in: a dataset, a BVH, HumanML3D, KIT-ML, AIST++ or NTU file, or a folder of them."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in (*DATASET_SUFFIXES, *FOREIGN_SUFFIXES)


def display_name(path: str | Path) -> str:
    """A file's name as the list shows it: a converted file by its source's name, not its cache name."""
    p = Path(path)
    if p.parent.name == CONVERTED_DIR:  # <source stem>.<content hash>.pt
        return f"{p.name.split('.')[0]} (converted)"
    return p.name


def choose_files(parent: QWidget, start: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, "Add datasets or motion capture", start, FILE_FILTERS)
    return paths


def choose_folder(parent: QWidget, start: str) -> list[str]:
    folder = QFileDialog.getExistingDirectory(parent, "Add a folder of BVH or NTU files, or a HumanML3D, KIT-ML "
                                                      "or AIST++ folder", start)
    return [folder] if folder else []


def cache_dir(datasets_dir: Path | None) -> Path:
    """Where converted files are kept: inside the workspace, so they are found again next time."""
    base = datasets_dir if datasets_dir is not None else Path.home() / ".cache" / "stickgen"
    return base / CONVERTED_DIR


def import_task(paths: list[str], cache: Path) -> Task:
    """A background task converting ``paths`` (cached by content); it finishes with an ImportResult."""

    def work(progress=None, should_stop=None) -> ImportResult:
        from stickgen_core.convert import import_paths

        return import_paths(paths, cache, progress=progress, cancel=should_stop)

    return Task(work, name="import")
