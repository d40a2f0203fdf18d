"""2.5D parallax renders of stick-figure clips: the v3 skeleton on a ground grid, seen from sampled cameras.

Why Python and Pillow rather than the reference's headless Three.js through Node: the figure is a flat
2-D skeleton, so a 2.5D scene is the skeleton lifted onto a vertical plane per actor (actor ``a`` at depth
``-ACTOR_SPACING * a``) standing on a ground grid. Perspective projection of a few hundred points is a
handful of batched numpy operations (``camera.project``), and Pillow draws antialiased lines by 2x
supersampling. No Node, no GPU, no browser: it runs wherever the core runs, is deterministic per seed
and is tested like the rest. Depth cues: line width and shade follow the distance to the camera, and the
grid shows the perspective (and the parallax of a moving camera).
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image, ImageDraw

from ..schema import NUM_SEGMENTS
from .camera import NEAR, CameraRanges, project, view_trajectories

log = logging.getLogger(__name__)

ACTOR_SPACING = 0.8   # metres between actors' planes
LIMB_WIDTH = 0.045    # metres: a limb's drawn thickness, projected
HEAD_RADIUS = 0.11    # metres
SUPERSAMPLE = 2       # drawn at 2x and downsampled (LANCZOS): antialiased edges
GRID_STEP = 0.5       # metres between ground grid lines
GRID_HALF = 6.0       # the grid reaches this far from the figure
GRID_PIECES = 24      # pieces per grid line, so a line crossing the camera plane is cut, not wrapped

_SKY = (236, 240, 246)
_GROUND = (214, 218, 210)
_GRID = (150, 156, 150)
# left limbs blue, right orange, trunk dark (as the 2-D renderer): sides stay readable from any camera
_SEG_COLOURS = np.array([(40, 40, 40)] * 3 + [(40, 110, 220)] * 2 + [(235, 120, 30)] * 2 +
                        [(40, 110, 220)] * 2 + [(235, 120, 30)] * 2 + [(40, 40, 40)], dtype=np.float32)


def lift(motion: np.ndarray) -> np.ndarray:
    """``[T, A, 48]`` v3 motion -> ``[T, A, 12, 2, 3]`` segment endpoints in the 3-D world (actor planes)."""
    T, A, _ = motion.shape
    seg = motion.reshape(T, A, NUM_SEGMENTS, 2, 2)
    z = (-ACTOR_SPACING * np.arange(A, dtype=np.float32))[None, :, None, None, None]
    return np.concatenate([seg, np.broadcast_to(z, (T, A, NUM_SEGMENTS, 2, 1))], -1)


def clip_poses(motion: np.ndarray, frames: np.ndarray, views: int, rng: np.random.Generator,
               ranges: CameraRanges = CameraRanges()) -> np.ndarray:
    """``[views, len(frames), 7]`` camera poses for ``frames`` of a ``[T, A, 48]`` clip.

    The cameras track the figure sideways: each pose's x follows the actors' mean x at its frame
    (a travelling clip stays in view), while the grid stays put in the world, so it slides past.
    """
    A = motion.shape[1]
    track = np.nanmean(motion[frames][..., 0::2].reshape(len(frames), -1), axis=1)  # [S]
    track = np.nan_to_num(track)
    ys = motion[..., 1::2]
    ys = ys[np.isfinite(ys)]
    span = (min(float(ys.min()), 0.0), float(ys.max())) if ys.size else (0.0, 1.8)  # the ground is in view too
    poses = view_trajectories(np.array([0.0, -ACTOR_SPACING * (A - 1) / 2]), views, len(frames), rng, ranges, span)
    poses[..., 0] += track[None]
    poses[..., 3] += track[None]
    return poses


def _grid_lines(cx: float, cz: float) -> np.ndarray:
    """``[L, GRID_PIECES + 1, 3]`` world polylines of the ground grid around (cx, cz), snapped to the world."""
    x0 = np.floor((cx - GRID_HALF) / GRID_STEP) * GRID_STEP
    z0 = np.floor((cz - GRID_HALF) / GRID_STEP) * GRID_STEP
    ticks = np.arange(int(2 * GRID_HALF / GRID_STEP) + 2) * GRID_STEP
    t = np.linspace(0.0, ticks[-1], GRID_PIECES + 1)
    along_z = np.stack(np.broadcast_arrays((x0 + ticks)[:, None], 0.0, (z0 + t)[None]), -1)
    along_x = np.stack(np.broadcast_arrays((x0 + t)[None], 0.0, (z0 + ticks)[:, None]), -1)
    return np.concatenate([along_z, along_x]).astype(np.float32)


def render_frame(segments: np.ndarray, pose: np.ndarray, size: int) -> Image.Image:
    """One RGB image: ``segments`` [A, 12, 2, 3] (world endpoints of one frame) seen through ``pose`` [7]."""
    big = size * SUPERSAMPLE
    img = Image.new("RGB", (big, big), _SKY)
    draw = ImageDraw.Draw(img)
    focal = (big / 2.0) / np.tan(np.radians(float(pose[6])) / 2.0)
    # the ground: horizon from a far point straight ahead, everything below it ground-coloured
    far = pose[3:6] + (pose[3:6] - pose[0:3]) * np.array([1e3, 0.0, 1e3], dtype=np.float32)
    far[1] = 0.0
    hpx, hz = project(far[None], pose, big)
    horizon = float(np.clip(hpx[0, 1] if hz[0] > NEAR else 0.0, 0, big))
    draw.rectangle([0, horizon, big, big], fill=_GROUND)
    grid = _grid_lines(float(pose[3]), float(pose[5]))
    gpx, gz = project(grid, pose, big)
    for line, depth in zip(gpx, gz):
        for k in range(len(line) - 1):
            if depth[k] > NEAR and depth[k + 1] > NEAR:
                draw.line([tuple(line[k]), tuple(line[k + 1])], fill=_GRID, width=max(1, SUPERSAMPLE))
    A = segments.shape[0]
    px, z = project(segments.reshape(-1, 3), pose, big)
    px, z = px.reshape(A, NUM_SEGMENTS, 2, 2), z.reshape(A, NUM_SEGMENTS, 2)
    finite = np.isfinite(segments).all(-1).all(-1)  # [A, 12]: NaN-padded actors and segments are not drawn
    mean_depth = np.where(finite[..., None], z, 0.0).sum((1, 2)) / np.maximum(2 * finite.sum(1), 1)
    order = np.argsort(-mean_depth)  # far actors first: a near one is drawn over them
    for a in order:
        for s in range(NUM_SEGMENTS):
            d = z[a, s]
            if not finite[a, s] or (d <= NEAR).any():
                continue
            depth = float(d.mean())
            width = max(1, int(round(focal * LIMB_WIDTH / depth)))
            shade = float(np.clip(1.15 - 0.1 * depth, 0.55, 1.0))  # farther: lighter (aerial perspective)
            colour = tuple(int(c) for c in _SEG_COLOURS[s] * shade + np.array(_SKY) * (1 - shade))
            (x0, y0), (x1, y1) = px[a, s]
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=width, joint="curve")
            r = width / 2.0
            for x, y in ((x0, y0), (x1, y1)):  # round caps: joints meet without notches
                draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
            if s == 0:  # the head: a ring at head_center
                hr = focal * HEAD_RADIUS / float(d[1])
                draw.ellipse([x1 - hr, y1 - hr, x1 + hr, y1 + hr], outline=colour, width=width)
    return img.resize((size, size), Image.LANCZOS)


def view_frames(n_frames: int, steps: int) -> np.ndarray:
    """Which motion frames a view shows: ``steps`` frames spread evenly over the clip, frame 0 first."""
    return np.unique(np.round(np.linspace(0, max(n_frames - 1, 0), max(min(steps, n_frames), 1))).astype(int))
