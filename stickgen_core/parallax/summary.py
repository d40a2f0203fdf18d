"""What a parallax root holds, cheaply (for a form that checks as the user types), and whether it covers a data file.

``root_summary`` reads ``parallax.json`` (our renders' settings) and lists the ``sample_*`` folders; a root of
the reference's (no ``parallax.json``) has its views, steps and image size read from its first
``metadata.json``. ``coverage_problem`` says, in one line naming ``data.parallax_root``, what training would
refuse: a root that is not one, or clips of the data file with no renders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import StickGenError
from ..limits import read_json_file
from .metadata import read_metadata
from .writer import SETTINGS_FILE

MAX_COUNTED_PT_BYTES = 64 << 20  # a bigger .pt is not read just to count its clips (training checks it)


@dataclass(frozen=True)
class RootSummary:
    root: str
    samples: list[int]              # sample indices with a folder
    views: int | None
    frames_per_view: int | None
    image_size: int | None
    seed: int | None
    source: str | None              # the data file the renders were made from (our renders only)

    def text(self, clips: int | None = None) -> str:
        """``412 of 412 clips covered · 4 views × 8 frames · 256 px · camera seed 0`` (``clips``: the data's)."""
        covered = f"{len(self.samples):,} clips rendered" if clips is None else \
            f"{sum(1 for i in self.samples if i < clips):,} of {clips:,} clips covered"
        parts = [covered]
        if self.views is not None:
            parts.append(f"{self.views} views × {self.frames_per_view} frames")
        if self.image_size is not None:
            parts.append(f"{self.image_size} px")
        if self.seed is not None:
            parts.append(f"camera seed {self.seed}")
        return " · ".join(parts)

    def missing(self, clips: int | None) -> list[int]:
        """Indices below ``clips`` (the data's clip count) with no sample folder."""
        have = set(self.samples)
        return [i for i in range(clips or 0) if i not in have]


def _sample_indices(root: Path) -> list[int]:
    out = []
    with os.scandir(root) as it:
        for entry in it:
            name = entry.name
            if name.startswith("sample_") and name[7:].isdigit() and entry.is_dir():
                out.append(int(name[7:]))
    return sorted(out)


def root_summary(root: str | os.PathLike, key: str = "data.parallax_root") -> RootSummary:
    """The root's clips, views, frames per view and image size; StickGenError naming ``key`` when it is no root."""
    path = Path(root)
    if not path.is_dir():
        raise StickGenError(f"{key}: {path} is not a folder; render one with `stickgen parallax render DATA --out "
                            f"{path}`")
    samples = _sample_indices(path)
    if not samples:
        raise StickGenError(f"{key}: {path} holds no sample_XXXXXX folders; render with `stickgen parallax render "
                            f"DATA --out {path}`")
    settings = path / SETTINGS_FILE
    if settings.is_file():
        s = read_json_file(settings, "parallax settings", StickGenError)
        s = s if isinstance(s, dict) else {}
        return RootSummary(str(path), samples, s.get("views"), s.get("frames_per_view"), s.get("size"),
                           s.get("seed"), s.get("source") or None)
    first = sorted((path / f"sample_{samples[0]:06d}").glob("actor_*/metadata.json"))
    if not first:
        raise StickGenError(f"{key}: {path}/sample_{samples[0]:06d} has no actor_*/metadata.json")
    frames = read_metadata(first[0])
    with Image.open(frames[0].path) as im:
        size = im.size[0]
    return RootSummary(str(path), samples, len({f.view_id for f in frames}),
                       len({f.step_index for f in frames}), size, None, None)


def count_clips(data: str | os.PathLike) -> int | None:
    """Clips of a dataset file, when counting is cheap (packed footers, a small .pt), else None."""
    from ..io import load_dataset
    from ..packed import count_clips as packed_count
    from ..packed import is_packed

    path = Path(data)
    if is_packed(path):
        return packed_count(path)
    if path.is_file() and path.stat().st_size <= MAX_COUNTED_PT_BYTES:
        return len(load_dataset(path).samples)
    return None


def coverage_problem(summary: RootSummary, data: str | os.PathLike, clips: int | None) -> str | None:
    """One line when the root lacks renders of some of the data's ``clips`` (training's refusal, early)."""
    missing = summary.missing(clips)
    if clips is None or not missing:
        return None
    return (f"data.parallax_root: {summary.root} has renders of {clips - len(missing):,} of the {clips:,} clips of "
            f"{data} (first missing: sample {missing[0]}); render them with `stickgen parallax render {data} --out "
            f"{summary.root}`")
