"""Find a clip's renders by its clip id, over the parallax roots of a workspace (for a clip card's strip).

Roots are looked for in ``<workspace>/parallax``: that folder itself when it is a root, else each of its
sub-folders that is one (a root holds ``sample_*`` folders). Our renders record each sample's ``clip_id``
(the content hash of ``io.clip_id``), so the same clip in a raw file and in a curated split finds the same
renders. Building the index reads every ``actor_0/metadata.json`` once (seconds for ten thousand clips):
run it off the GUI thread.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from ..errors import StickGenError
from .metadata import ParallaxFrame, group_views, read_metadata

FOLDER = "parallax"
MAX_VIEWS_SHOWN = 8


def workspace_roots(workspace_root: str | os.PathLike) -> list[Path]:
    """The parallax roots under ``<workspace_root>/parallax`` (possibly none)."""
    base = Path(workspace_root) / FOLDER
    if not base.is_dir():
        return []
    if any(base.glob("sample_*")):
        return [base]
    return sorted(p for p in base.iterdir() if p.is_dir() and any(p.glob("sample_*")))


def index_clips(roots: list[Path], should_stop: Callable[[], bool] | None = None) -> dict[str, Path]:
    """clip id -> the ``actor_0/metadata.json`` of its renders (the first root that has it wins).
    Unreadable metadata files are passed over: a card strip is no place to refuse a root."""
    out: dict[str, Path] = {}
    for root in roots:
        for meta in sorted(root.glob("sample_*/actor_0/metadata.json")):
            if should_stop is not None and should_stop():
                raise InterruptedError
            try:
                frames = read_metadata(meta)
            except StickGenError:
                continue
            cid = frames[0].clip_id
            if cid and cid not in out:
                out[cid] = meta
    return out


def first_frames(meta: Path, limit: int = MAX_VIEWS_SHOWN) -> list[ParallaxFrame]:
    """The first rendered step of each view (up to ``limit`` views) of one ``metadata.json``."""
    views = group_views(read_metadata(meta))
    return [frames[0] for frames in list(views.values())[:limit]]


def camera_text(frame: ParallaxFrame) -> str:
    """``view 2 · camera (4.1, 1.4, 1.8) → (0.0, 0.9, 0.0) · fov 48°`` (metres, degrees)."""
    c = frame.camera
    return (f"view {frame.view_id} · camera ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) → ({c[3]:.1f}, {c[4]:.1f}, "
            f"{c[5]:.1f}) · fov {c[6]:.0f}° · motion frame {frame.motion_frame}")
