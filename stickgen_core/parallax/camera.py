"""Cameras for 2.5D parallax renders: seeded orbit/dolly trajectories and batched perspective projection.

World frame: x to the right along the motion's ground line (metres, the v3 skeleton's x), y up
(ground at 0), z towards the default camera. A camera is ``(position xyz, target xyz, fov)`` with
the vertical field of view in degrees: the reference's ``camera_pose`` [7] layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: camera_pose columns: position xyz, target xyz, vertical field of view (degrees)
POSE_DIM = 7
NEAR = 0.05  # metres: points closer than this to the camera plane are not drawn


@dataclass(frozen=True)
class CameraRanges:
    """Where sampled cameras may be: azimuth about the figure, elevation, distance, field of view.

    Distances are for a 1.8 m figure and scale with the clip's height; ``target_share`` is where the
    camera looks, as a share of the figure's height above its lowest point. ``fit`` is the least share of
    the figure's height that must fit above and below the target (a narrow lens is moved back).
    ``orbit_deg`` and ``dolly`` are how far a camera moves across one view's frames (a slow orbit
    and a dolly in or out), so a view is a short camera move rather than a still.
    """

    azimuth_deg: tuple[float, float] = (-70.0, 70.0)
    elevation_deg: tuple[float, float] = (0.0, 25.0)
    distance: tuple[float, float] = (3.0, 6.0)
    fov_deg: tuple[float, float] = (35.0, 60.0)
    target_share: tuple[float, float] = (0.45, 0.6)
    fit: float = 0.62
    orbit_deg: float = 15.0
    dolly: float = 0.15


def view_trajectories(centre: np.ndarray, views: int, steps: int, rng: np.random.Generator,
                      ranges: CameraRanges = CameraRanges(), span: tuple[float, float] = (0.0, 1.8)) -> np.ndarray:
    """``[views, steps, 7]`` camera poses looking at ``centre`` (x, z of the figure) from seeded cameras.

    ``span``: the figure's lowest and highest y. Each view draws an azimuth, elevation, distance, field
    of view and target height, then orbits by up to ``orbit_deg`` and dollies by up to ``dolly`` (a share
    of the distance) over its steps.
    """
    def draw(lo_hi: tuple[float, float]) -> np.ndarray:
        return rng.uniform(lo_hi[0], lo_hi[1], size=views)

    az, el, dist, fov, share = (draw(ranges.azimuth_deg), draw(ranges.elevation_deg), draw(ranges.distance),
                                draw(ranges.fov_deg), draw(ranges.target_share))
    height = max(span[1] - span[0], 0.3)
    th = span[0] + share * height
    # scaled to the figure, and never so close that the lens crops it (with the dolly in included)
    dist = np.maximum(dist * height / 1.8, ranges.fit * height / np.tan(np.radians(fov) / 2)) / (1 - ranges.dolly)
    orbit = rng.uniform(-ranges.orbit_deg, ranges.orbit_deg, size=views)
    dolly = rng.uniform(-ranges.dolly, ranges.dolly, size=views)
    t = np.linspace(0.0, 1.0, steps) if steps > 1 else np.zeros(1)
    az_t = np.radians(az[:, None] + orbit[:, None] * t[None])          # [V, S]
    el_t = np.radians(np.broadcast_to(el[:, None], az_t.shape))
    d_t = dist[:, None] * (1.0 + dolly[:, None] * t[None])
    target = np.stack([np.full(views, centre[0]), th, np.full(views, centre[1])], -1)  # [V, 3]
    pos = np.stack([np.sin(az_t) * np.cos(el_t), np.sin(el_t), np.cos(az_t) * np.cos(el_t)], -1) * d_t[..., None]
    pos = pos + target[:, None]
    out = np.concatenate([pos, np.broadcast_to(target[:, None], pos.shape),
                          np.broadcast_to(fov[:, None, None], (*pos.shape[:2], 1))], -1)
    return out.astype(np.float32)


def project(points: np.ndarray, poses: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Project world ``points`` [..., P, 3] through ``poses`` [..., 7] onto a ``size``-pixel square image.

    Returns pixel coordinates [..., P, 2] (x right, y down) and camera depth [..., P] (metres along the
    view direction; <= ``NEAR`` means behind or at the camera). Batched over any leading shape.
    """
    pos, target, fov = poses[..., None, 0:3], poses[..., None, 3:6], poses[..., 6]
    fwd = target - pos
    fwd = fwd / np.linalg.norm(fwd, axis=-1, keepdims=True).clip(1e-9)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), fwd.shape)
    right = np.cross(fwd, up)
    right = right / np.linalg.norm(right, axis=-1, keepdims=True).clip(1e-9)  # the camera never looks straight down
    cam_up = np.cross(right, fwd)
    rel = points - pos
    xc, yc, zc = (rel * right).sum(-1), (rel * cam_up).sum(-1), (rel * fwd).sum(-1)
    focal = (size / 2.0) / np.tan(np.radians(fov) / 2.0)[..., None]
    safe = np.where(zc > NEAR, zc, NEAR)
    px = np.stack([size / 2.0 + focal * xc / safe, size / 2.0 - focal * yc / safe], -1)
    return px, zc


def pose_dict(pose: np.ndarray) -> dict:
    """A camera pose [7] as the reference's metadata ``camera`` object."""
    p = [round(float(v), 5) for v in pose]
    return {"position": {"x": p[0], "y": p[1], "z": p[2]}, "target": {"x": p[3], "y": p[4], "z": p[5]}, "fov": p[6]}
