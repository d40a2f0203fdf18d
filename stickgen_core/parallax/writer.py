"""Render a dataset's clips into the reference's parallax layout, atomically and resumably.

Layout (the reference's): ``ROOT/sample_XXXXXX/actor_Y/*.png`` with one ``metadata.json`` per
(sample, actor)::

    {"sample_id": "sample_000012", "actor_id": "actor_0", "sample_index": 12, "actor_index": 0,
     "clip_id": "...", "text": "...", "action": "walk", "image_size": 256,
     "frames": [{"file": "view00_step000_frame00000.png", "view_id": 0, "step_index": 0,
                 "motion_frame_index": 0, "action": "walk",
                 "camera": {"position": {"x":..,"y":..,"z":..}, "target": {...}, "fov": 48.2}}, ...]}

``sample_XXXXXX`` is the sample's index in the data file (the reference's reader parses it back).
A sample is written into a temp folder and renamed into place, so a folder that exists is complete:
a second run skips it (resume). ``ROOT/parallax.json`` records the settings; a run with other
settings into the same root is refused rather than mixing two kinds of render.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import psutil

from ..errors import ConfigError, DatasetError
from ..io import atomic_write_text, clip_id
from ..limits import read_json_file
from ..paths import OutputLock
from ..schema import action_name, motion_array
from .camera import pose_dict
from .render import clip_poses, lift, render_frame, view_frames

log = logging.getLogger(__name__)

SETTINGS_FILE = "parallax.json"
MAX_VIEWS, MAX_FRAMES_PER_VIEW, MIN_SIZE, MAX_SIZE = 64, 512, 16, 1024
MAX_IMAGES = 2_000_000  # one render call; about 20 GB of 256-pixel PNGs


@dataclass(frozen=True)
class RenderSettings:
    views: int = 4
    frames_per_view: int = 8
    size: int = 256
    seed: int = 0

    def check(self) -> None:
        for name, value, lo, hi in (("views", self.views, 1, MAX_VIEWS),
                                    ("frames_per_view", self.frames_per_view, 1, MAX_FRAMES_PER_VIEW),
                                    ("size", self.size, MIN_SIZE, MAX_SIZE)):
            if not lo <= value <= hi:
                raise ConfigError(f"parallax render: {name} must be {lo}..{hi}, got {value}")


@dataclass
class RenderSummary:
    root: str
    samples: int
    rendered: int
    skipped: int
    images: int


def sample_folder(index: int) -> str:
    return f"sample_{index:06d}"


def _actions_of(sample: dict, T: int, A: int) -> np.ndarray:
    """``[T, A]`` action indices (zeros when the sample has none)."""
    a = sample.get("actions")
    if a is None:
        return np.zeros((T, A), dtype=np.int64)
    a = np.asarray(a.numpy() if hasattr(a, "numpy") else a).astype(np.int64)
    if a.ndim == 0 or a.size == 1:  # one label for the clip
        return np.full((T, A), int(a.reshape(-1)[0]))
    a = a.reshape(len(a), -1)[:T]
    a = np.pad(a, ((0, T - len(a)), (0, 0)), mode="edge") if len(a) < T else a
    return np.broadcast_to(a[:, :A], (T, A)) if a.shape[1] in (1, A) else a[:, :A]


def _render_sample(job: dict[str, Any]) -> int:
    """Render one sample (every actor, every view) into a temp folder renamed to its final name; images."""
    root, index, st = Path(job["root"]), job["index"], RenderSettings(**job["settings"])
    motion = job["motion"] if job["motion"].ndim == 3 else job["motion"][:, None]
    T, A, _ = motion.shape
    actions = _actions_of({"actions": job["actions"]}, T, A)
    final = root / sample_folder(index)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".tmp", dir=root))
    images = 0
    try:
        rng = np.random.default_rng([st.seed, index])  # per sample: independent of worker count and order
        frames = view_frames(T, st.frames_per_view)
        for a in range(A):
            own = motion[:, a: a + 1]
            if not np.isfinite(own).any():
                continue  # an all-NaN actor slot (padding) has nothing to draw
            poses = clip_poses(own, frames, st.views, rng)
            world = lift(own)
            folder = tmp / f"actor_{a}"
            folder.mkdir()
            entries = []
            for v in range(st.views):
                for k, f in enumerate(frames):
                    name = f"view{v:02d}_step{k:03d}_frame{int(f):05d}.png"
                    render_frame(world[f], poses[v, k], st.size).save(folder / name, optimize=False)
                    entries.append({"file": name, "view_id": v, "step_index": k, "motion_frame_index": int(f),
                                    "action": action_name(int(actions[f, a])), "camera": pose_dict(poses[v, k])})
                    images += 1
            top = Counter(int(x) for x in actions[:, a]).most_common(1)[0][0]
            meta = {"sample_id": final.name, "actor_id": f"actor_{a}", "sample_index": index, "actor_index": a,
                    "clip_id": job["clip_id"], "text": job["text"], "action": action_name(top),
                    "image_size": st.size, "frames": entries}
            atomic_write_text(folder / "metadata.json", json.dumps(meta, indent=1))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return images


def _clean_stale(root: Path) -> None:
    """Remove temp sample folders of writers that no longer run (a killed render)."""
    for entry in root.glob(".sample_*.tmp"):
        parts = entry.name.split(".")
        pid = int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else None
        if entry.is_dir() and pid is not None and (pid == os.getpid() or not psutil.pid_exists(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            log.info("removed a stale temp folder %s", entry)


def _check_settings(root: Path, settings: RenderSettings, source: str) -> None:
    path = root / SETTINGS_FILE
    wanted = {**asdict(settings), "source": source}
    if path.exists():
        found = read_json_file(path, "parallax settings", DatasetError)
        if {k: found.get(k) for k in wanted} != wanted:
            raise ConfigError(f"{path}: this root holds renders made with {found}, not {wanted}; render into "
                              "another --out folder (two kinds of render in one root would be mixed in training)")
    else:
        atomic_write_text(path, json.dumps(wanted, indent=1))


def render_dataset(samples: Sequence[dict], root: str | os.PathLike, settings: RenderSettings = RenderSettings(), *,
                   source: str = "", indices: Iterable[int] | None = None, workers: int = 1,
                   max_images: int = MAX_IMAGES) -> RenderSummary:
    """Render ``samples`` (all, or ``indices``) into ``root``; samples already there are skipped.

    ``workers`` > 1 renders samples in that many processes. Refused before anything is drawn when the
    settings are out of bounds or the call would make more than ``max_images`` images.
    """
    settings.check()
    chosen = list(range(len(samples))) if indices is None else sorted(set(indices))
    bad = [i for i in chosen if not 0 <= i < len(samples)]
    if bad:
        raise ConfigError(f"parallax render: sample index {bad[0]} is outside the data's 0..{len(samples) - 1}")
    root = Path(root)
    with OutputLock(root):
        _check_settings(root, settings, source)
        _clean_stale(root)
        todo = [i for i in chosen if not (root / sample_folder(i)).is_dir()]
        motions = {i: motion_array(samples[i]["motion"], f"sample {i} motion") for i in todo}
        expected = sum(m.shape[1] if m.ndim == 3 else 1 for m in motions.values()) * settings.views * \
            settings.frames_per_view
        if expected > max_images:
            raise ConfigError(f"parallax render: {len(todo)} samples x {settings.views} views x "
                              f"{settings.frames_per_view} frames is up to {expected} images, over the limit of "
                              f"{max_images}; render fewer samples (indices) or views")
        jobs = [{"root": str(root), "index": i, "settings": asdict(settings), "motion": motions[i],
                 "actions": _np_or_none(samples[i].get("actions")), "text": str(samples[i].get("description", "")),
                 "clip_id": samples[i].get("clip_id") or clip_id(samples[i])} for i in todo]
        images = 0
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for n, done in enumerate(pool.map(_render_sample, jobs, chunksize=1), 1):
                    images += done
                    log.info("parallax: %d / %d samples rendered", n, len(jobs))
        else:
            for n, job in enumerate(jobs, 1):
                images += _render_sample(job)
                log.info("parallax: %d / %d samples rendered", n, len(jobs))
    return RenderSummary(str(root), len(chosen), len(todo), len(chosen) - len(todo), images)


def _np_or_none(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)
