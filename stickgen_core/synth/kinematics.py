"""Forward kinematics of the synthetic stick figure.

A pose is a row of named parameters (angles in degrees, lengths in metres). The
body is built in a body frame (forward f, lateral l, up y), turned by ``yaw`` and
projected orthographically onto the screen (x, y): yaw 0 faces the camera, yaw 90
faces screen-right. The pelvis height follows ground contact (the lowest point
rests on y = 0, plus ``lift`` and ``elev``), and the lowest joint is held in place
from frame to frame, so feet stay planted (walking, crouching, turning) instead of sliding.
"""

from __future__ import annotations

import numpy as np

from ..schema import JOINT_INDEX
from ..skeleton import smooth_time

PARAMS: tuple[str, ...] = (
    "yaw", "pitch", "lean", "head",
    "l_sh_flex", "l_sh_abd", "l_elbow", "l_fore_abd",
    "r_sh_flex", "r_sh_abd", "r_elbow", "r_fore_abd",
    "l_hip_flex", "l_hip_abd", "l_knee",
    "r_hip_flex", "r_hip_abd", "r_knee",
    "sway", "lift", "elev", "drift", "gait",
)
P = {name: i for i, name in enumerate(PARAMS)}

#: Body proportions in metres (a figure about 1.75 m tall).
BODY = {
    "lower_torso": 0.30, "upper_torso": 0.25, "head": 0.20,
    "shoulder_half": 0.17, "shoulder_drop": 0.03, "upper_arm": 0.30, "forearm": 0.27,
    "hip_half": 0.10, "thigh": 0.45, "shin": 0.45,
}


def neutral(T: int) -> np.ndarray:
    """``[T, len(PARAMS)]`` standing pose, facing the camera."""
    pose = np.zeros((T, len(PARAMS)), dtype=np.float64)
    pose[:, P["l_elbow"]] = pose[:, P["r_elbow"]] = 8.0
    pose[:, P["l_sh_abd"]] = pose[:, P["r_sh_abd"]] = 6.0
    pose[:, P["l_knee"]] = pose[:, P["r_knee"]] = 3.0
    return pose


def _limb(flex_deg: np.ndarray, abd_deg: np.ndarray, side: float) -> np.ndarray:
    """Unit direction ``[T, 3]`` (f, l, y): flex swings forward, abduction swings outward."""
    a, b = np.radians(flex_deg), np.radians(abd_deg)
    return np.stack([np.sin(a) * np.cos(b), side * np.sin(b), -np.cos(a) * np.cos(b)], axis=-1)


def body_frame_joints(pose: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """``[T, 16, 3]`` joints relative to the pelvis centre, before yaw and ground contact."""
    T = pose.shape[0]
    g = lambda name: pose[:, P[name]]  # noqa: E731
    s = np.asarray(scale, dtype=np.float64)
    L = {k: v * s for k, v in BODY.items()}
    J = np.zeros((T, 16, 3))
    lean = np.radians(g("lean"))
    up = np.stack([np.sin(lean), np.zeros(T), np.cos(lean)], axis=-1)
    pelvis = np.zeros((T, 3))
    pelvis[:, 1] = g("sway")
    chest = pelvis + up * L["lower_torso"]
    neck = chest + up * L["upper_torso"]
    tilt = lean + np.radians(g("head"))
    head_dir = np.stack([np.sin(tilt), np.zeros(T), np.cos(tilt)], axis=-1)
    head = neck + head_dir * L["head"]
    J[:, JOINT_INDEX["pelvis_center"]] = pelvis
    J[:, JOINT_INDEX["chest"]] = chest
    J[:, JOINT_INDEX["neck"]] = neck
    J[:, JOINT_INDEX["head_center"]] = head
    for side_name, side in (("l", 1.0), ("r", -1.0)):
        shoulder = neck - up * L["shoulder_drop"]
        shoulder = shoulder + np.array([0.0, side, 0.0]) * L["shoulder_half"]
        upper = _limb(g(f"{side_name}_sh_flex") + g("lean"), g(f"{side_name}_sh_abd"), side)
        elbow = shoulder + upper * L["upper_arm"]
        fore = _limb(g(f"{side_name}_sh_flex") + g("lean") + g(f"{side_name}_elbow"),
                     g(f"{side_name}_sh_abd") + g(f"{side_name}_fore_abd"), side)
        wrist = elbow + fore * L["forearm"]
        hip = pelvis + np.array([0.0, side, 0.0]) * L["hip_half"]
        thigh = _limb(g(f"{side_name}_hip_flex"), g(f"{side_name}_hip_abd"), side)
        knee = hip + thigh * L["thigh"]
        shin = _limb(g(f"{side_name}_hip_flex") - g(f"{side_name}_knee"), g(f"{side_name}_hip_abd"), side)
        ankle = knee + shin * L["shin"]
        for name, val in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist),
                          ("hip", hip), ("knee", knee), ("ankle", ankle)):
            J[:, JOINT_INDEX[f"{side_name}_{name}"]] = val
    # Whole-body pitch (falls) turns the body about the pelvis in the sagittal plane.
    pitch = np.radians(g("pitch"))[:, None]
    f, y = J[..., 0].copy(), J[..., 2].copy()
    J[..., 0] = f * np.cos(pitch) + y * np.sin(pitch)
    J[..., 2] = -f * np.sin(pitch) + y * np.cos(pitch)
    return J


def place_on_screen(pose: np.ndarray, fps: float, x0: float = 0.0, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """``[T, 16, 2]`` screen joints: yaw projection, ground contact and stance-foot travel."""
    J = body_frame_joints(pose, scale)
    yaw = np.radians(pose[:, P["yaw"]])[:, None]
    x_rel = J[..., 0] * np.sin(yaw) + J[..., 1] * np.cos(yaw)
    y_rel = J[..., 2]
    # Ground contact: the lowest point touches y = 0, then jumps/climbs add height.
    pelvis_y = -y_rel.min(axis=1) + pose[:, P["lift"]] + pose[:, P["elev"]]
    # Travel: the lowest joint is the contact point and does not slide, so the root moves
    # under it (walking, pivoting, toppling over); in flight the root drifts instead.
    contact = np.argmin(y_rel, axis=1)
    rows = np.arange(len(pose))
    contact = np.concatenate([contact[:1], contact[:-1]])  # the joint planted at the start of each step
    prev = np.vstack([x_rel[:1], x_rel[:-1]])
    step = -(x_rel[rows, contact] - prev[rows, contact])
    # While walking (``gait`` = 1) both feet may touch the floor at a hand-over; the body is
    # carried by whichever foot sweeps backwards faster, so it never stalls between steps.
    fwd = np.sign(np.sin(yaw[:, 0]))
    d_feet = (x_rel[:, [JOINT_INDEX["l_ankle"], JOINT_INDEX["r_ankle"]]]
              - prev[:, [JOINT_INDEX["l_ankle"], JOINT_INDEX["r_ankle"]]])
    gait_step = np.clip((-d_feet * fwd[:, None]).max(axis=1), 0, None) * fwd
    step = np.where(pose[:, P["gait"]] > 0.5, gait_step, step)
    # in the air the body keeps the horizontal speed it took off with (plus any drift)
    airborne = pose[:, P["lift"]] > 0.005
    last_contact = np.maximum.accumulate(np.where(airborne, 0, rows))
    step = np.where(airborne, step[last_contact] + pose[:, P["drift"]] * np.sin(yaw[:, 0]) / fps, step)
    # contact hand-overs leave one-frame kinks in the step; a body's momentum does not
    travel = np.cumsum(smooth_time(step, 0.8))
    out = np.empty(J.shape[:2] + (2,))
    out[..., 0] = x_rel + (x0 + travel)[:, None]
    out[..., 1] = y_rel + pelvis_y[:, None]
    return out


def ease(u: np.ndarray, times, vals) -> np.ndarray:
    """Cosine-eased interpolation of ``vals`` at ``times``, evaluated at ``u`` (held outside)."""
    times_a, vals_a = np.asarray(times, dtype=np.float64), np.asarray(vals, dtype=np.float64)
    if len(times_a) == 1:
        return np.full(np.shape(u), vals_a[0])
    idx = np.clip(np.searchsorted(times_a, u, side="right") - 1, 0, len(times_a) - 2)
    w = np.clip((u - times_a[idx]) / np.maximum(times_a[idx + 1] - times_a[idx], 1e-9), 0.0, 1.0)
    s = 0.5 - 0.5 * np.cos(np.pi * w)
    return vals_a[idx] + s * (vals_a[idx + 1] - vals_a[idx])


def keyframes(T: int, fps: float, keys: list[tuple[float, float]]) -> np.ndarray:
    """``[T]`` values eased between ``(seconds, value)`` keys; held outside them."""
    return ease(np.arange(T) / fps, [k[0] for k in keys], [k[1] for k in keys])
