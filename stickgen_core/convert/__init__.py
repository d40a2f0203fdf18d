"""Foreign data in: BVH, HumanML3D joints and reference Stick-Gen files -> canonical samples.

``convert_path`` turns one file or folder into samples; ``import_paths`` is what a GUI
calls for any user paths: it converts in order, caches each converted file by content, and
reports per-file problems without stopping the good files.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import DatasetError, StickGenError
from ..io import atomic_torch_save, load_torch_file, samples_from_object
from ..packed import is_packed
from ..schema import SCHEMA_VERSION
from .batch import BatchResult, Progress, convert_many, failure_message
from .one_file import FORMATS, convert_file, reference_samples
from .datasets import DATASETS, dataset_files, detect_dataset
from .labels import label_files
from .reference_v1 import V1_DIM

log = logging.getLogger(__name__)
CONVERTER_VERSION = 3  # part of the cache key: bump when conversion changes (3: rig matching, units, labels)


def source_files(src: str | Path, fmt: str) -> list[Path]:
    """The files of ``src`` a format reads: the file itself, or a folder's matching files (sorted)."""
    if fmt in DATASETS:
        return dataset_files(src, fmt)
    p = Path(src)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder", p)
    if p.is_file():
        return [p]
    pattern = {"bvh": "*.bvh", "humanml3d": "*.npy", "reference": "*.pt"}[fmt]
    base = p / "new_joints" if fmt == "humanml3d" and (p / "new_joints").is_dir() else p
    files = sorted(base.rglob(pattern) if fmt == "bvh" else base.glob(pattern))
    if not files:
        raise DatasetError(f"{p}: holds no {pattern} files for --format {fmt}", p)
    return files


def convert_path(src: str | Path, fmt: str, describe: str | None = None,
                 target_height: float | None = 1.75, **options) -> list[dict]:
    """Samples of every file under ``src`` (a file or folder) in one format; stops at the first bad file
    (``convert_folder`` converts what it can instead)."""
    return [s for f in source_files(src, fmt) for s in convert_file(f, fmt, describe, target_height, **options)]


def convert_folder(src: str | Path, fmt: str, *, jobs: int = 1, progress: Progress | None = None,
                   **options) -> BatchResult:
    """Every file under ``src`` that converts (in ``jobs`` processes), and ``file: reason`` for the rest.
    ``options`` are ``convert_file``'s (describe, target_height, units, scale)."""
    return convert_many(source_files(src, fmt), fmt, jobs=jobs, progress=progress, **options)


def detect_format(path: Path) -> str | None:
    """``bvh``, ``humanml3d``, ``reference`` (any other ``.pt``: a dataset, None), a public dataset's
    format (``datasets.detect_dataset``) or None."""
    dataset = detect_dataset(path)
    if dataset:
        return dataset
    if path.is_dir():
        if (path / "new_joints").is_dir() or any(path.glob("*.npy")):
            return "humanml3d"
        if any(path.rglob("*.bvh")):
            return "bvh"
        return None
    return {".bvh": "bvh", ".npy": "humanml3d"}.get(path.suffix.lower())


@dataclass
class ImportResult:
    """Dataset files ready for annotation (converted caches, or the user's own ``.pt`` files),
    and ``(path, one-line message)`` per file that could not be used."""

    samples_files: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _cache_name(files: list[Path], fmt: str) -> str:
    h = hashlib.blake2b(digest_size=10)
    h.update(f"{fmt}:{CONVERTER_VERSION}:{SCHEMA_VERSION}".encode())
    for f in files:
        h.update(str(f.resolve()).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _is_reference_v1(samples: list) -> bool:
    return any(isinstance(s, dict) and getattr(s.get("motion"), "shape", (0,))[-1] == V1_DIM for s in samples)


def _import_one(f: Path, fmt: str | None, cache: Path) -> Path:
    """The dataset file for one source file: the file itself when it loads as it is, else its cached conversion."""
    if fmt is None and is_packed(f):
        return f  # checked and in the current schema when packed; opened lazily by its readers
    if fmt is None:
        samples = samples_from_object(load_torch_file(f, mmap=True), f)  # readable, vocabulary known
        if not _is_reference_v1(samples):
            return f
        fmt = "reference"  # the reference's v1 scenes: converted to v3 first
    out = cache / f"{f.stem}.{_cache_name([f, *label_files(f)], fmt)}.pt"  # an edited sidecar converts again
    if not out.exists():
        atomic_torch_save(convert_file(f, fmt), out)
    return out


def import_paths(paths: Iterable[str | Path], cache_dir: str | Path, *,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> ImportResult:
    """Any user paths (``.pt`` datasets, reference ``.pt`` files v1 or v3, ``.bvh`` files or folders,
    HumanML3D folders) -> canonical dataset files, converted once and cached by content in
    ``cache_dir``. A file that fails is listed in ``problems``; the others still come through.
    ``progress(done, total)`` is called per source file; ``cancel()`` is polled between files
    and raises InterruptedError when it returns True."""
    items: list[tuple[Path, str | None]] = []
    result = ImportResult()
    for raw in paths:
        p = Path(raw)
        try:
            fmt = detect_format(p) if p.exists() else None
        except Exception as exc:  # noqa: BLE001 - a path that cannot even be looked at is listed, not fatal
            result.problems.append((str(p), failure_message(p, exc)))
            continue
        if not p.exists():
            result.problems.append((str(p), f"{p}: no such file or folder"))
        elif fmt is None and (p.suffix in (".pt", ".pth") or is_packed(p)):
            items.append((p, None))  # a dataset of ours or of the reference: the loader reads both
        elif fmt is None:
            result.problems.append((str(p), f"{p}: not a dataset (.pt), BVH (.bvh), HumanML3D / KIT-ML (new_joints/*.npy), "
                                                 f"AIST++ (keypoints3d/*.pkl) or NTU (.skeleton) path"))
        else:
            try:
                items.extend((f, fmt) for f in source_files(p, fmt))
            except StickGenError as exc:
                result.problems.append((str(p), str(exc)))
    cache = Path(cache_dir)
    for k, (f, fmt) in enumerate(items):
        if cancel and cancel():
            raise InterruptedError("import cancelled")
        try:
            result.samples_files.append(_import_one(f, fmt, cache))
        except Exception as exc:  # noqa: BLE001 - a file that fails in any way is listed; the others go on
            log.debug("import %s failed", f, exc_info=True)
            result.problems.append((str(f), failure_message(f, exc)))
        if progress:
            progress(k + 1, len(items))
    for _, line in result.problems:
        log.warning("import: %s", line)
    return result


__all__ = ["FORMATS", "BatchResult", "ImportResult", "convert_file", "convert_folder", "convert_many", "convert_path",
           "detect_format", "import_paths", "reference_samples", "source_files"]
