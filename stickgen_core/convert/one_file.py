"""One source file (BVH, HumanML3D joints, a reference Stick-Gen file, a public dataset's file) -> validated
canonical samples. The batch converter's worker processes call ``convert_file``; the package's
folder and import functions build on it."""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from ..io import load_torch_file, samples_from_object
from ..schema import SCHEMA_VERSION, validate_sample
from .bvh import read_bvh
from .datasets import DATASETS, convert_dataset_file
from .humanml3d import caption, read_humanml3d
from .joints3d import to_sample
from .labels import Labels, clip_labels, label_sample
from .reference_v1 import V1_DIM, v1_sample_to_v3

FORMATS = ("bvh", "humanml3d", "reference", *DATASETS)


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
