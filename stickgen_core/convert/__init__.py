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
from ..schema import SCHEMA_VERSION, validate_sample
from .batch import BatchResult, Progress, convert_many, failure_message
from .bvh import read_bvh
from .datasets import DATASETS, convert_dataset_file, dataset_files, detect_dataset
from .humanml3d import caption, read_humanml3d
from .joints3d import to_sample
from .labels import Labels, clip_labels, label_files, label_sample
from .reference_v1 import V1_DIM, v1_sample_to_v3

log = logging.getLogger(__name__)
FORMATS = ("bvh", "humanml3d", "reference", *DATASETS)
CONVERTER_VERSION = 3  # part of the cache key: bump when conversion changes (3: rig matching, units, labels)


def _description(path: Path, describe: str | None) -> str:
    sidecar = path.with_suffix(".txt")
    if describe:
        return describe
    if sidecar.is_file():
        with open(sidecar, "rb") as fh:  # bounded: a description is one line
            lines = fh.read(1 << 16).decode("utf-8", errors="replace").strip().splitlines()
        if lines and lines[0].strip():
            return lines[0].strip()
    return "motion capture: " + path.stem.replace("_", " ")


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


def convert_file(path: str | Path, fmt: str, describe: str | None = None,
                 target_height: float | None = 1.75, *, units: str = "auto", scale: float | None = None,
                 name_pattern: str | None = None) -> list[dict]:
    """Canonical samples of one source file (validated; DatasetError naming the file otherwise).
    ``units``/``scale``: what a file unit is (``convert.units``; ``auto`` finds it from the figure).
    ``name_pattern`` reads labels from the file name and ``describe`` may be a template of them
    (``convert.labels``); JSON/TXT sidecars beside the file are read when present."""
    p = Path(path)
    size = {"target_height": target_height, "units": units, "scale": scale}
    if fmt == "bvh":
        samples = [to_sample(read_bvh(p), _description(p, describe), **size)]
    elif fmt == "humanml3d":
        samples = [to_sample(read_humanml3d(p), describe or caption(p) or _description(p, None), **size)]
    elif fmt == "reference":
        samples = reference_samples(p)
    elif fmt in DATASETS:
        samples = convert_dataset_file(p, fmt, describe, name_pattern, **size)
    else:
        raise DatasetError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}", p)
    if fmt in ("bvh", "humanml3d"):  # the converter's text is the default under the name's and sidecars' labels
        labels = clip_labels(p, name_pattern, Labels(description=caption(p) if fmt == "humanml3d" else None))
        samples = [label_sample(s, labels, describe, p) for s in samples]
    for i, s in enumerate(samples):
        problems = validate_sample(s)
        if problems:
            raise DatasetError(f"{p} sample {i}: converted clip is invalid: " + "; ".join(map(str, problems)), p)
    return samples


def reference_samples(path: Path) -> list[dict]:
    """A reference Stick-Gen file (v3 ``[T, 48]``, or v1 ``[T, 20]`` / ``[T, A, 20]`` converted as its own
    ``_v1_motion_to_v3`` does) as canonical samples: its action indices are ours (names checked
    against ``annotations.action_summary``), the origin goes to ``meta``."""
    raw = samples_from_object(load_torch_file(path), path)  # migrates and checks the vocabulary
    out = []
    for i, s in enumerate(raw):
        width = getattr(s.get("motion"), "shape", (0,))[-1] if isinstance(s, dict) else None
        if width == V1_DIM:
            out.append(v1_sample_to_v3(s, path, i))
            continue
        if width != 48:
            shape = list(getattr(s.get("motion"), "shape", [])) if isinstance(s, dict) else type(s).__name__
            raise DatasetError(f"{path} sample {i}: expected reference motion [T, 48] (v3) or [T, 20] / "
                               f"[T, A, 20] (v1), got {shape}", path)
        if not isinstance(s.get("meta") or {}, dict):
            raise DatasetError(f"{path} sample {i}: meta: expected a mapping, got {type(s.get('meta')).__name__}", path)
        meta = dict(s.get("meta") or {}, origin=str(path), origin_index=i, origin_format="reference")
        out.append(dict(s, meta=meta, schema_version=SCHEMA_VERSION))
    return out


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
