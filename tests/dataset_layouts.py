"""Tiny samples of public dataset layouts (KIT-ML, AIST++, NTU RGB+D, 100STYLE), generated from a
3-D walk of the synthetic figure, so converter tests run on a fresh clone without ../shared."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from stickgen_core.convert.aist import COCO17
from stickgen_core.convert.kitml import KIT21
from stickgen_core.convert.ntu import KINECT25
from stickgen_core.schema import JOINT_INDEX as JI
from stickgen_core.synth import actions
from stickgen_core.synth.kinematics import P, body_frame_joints, place_on_screen


def walk_3d(seconds: float, fps: float, seed: int = 0, speed: float = 1.0) -> np.ndarray:
    """``[T, 16, 3]`` metres, y up: the synthetic walk seen from its side (x forward, z lateral)."""
    T = int(round(seconds * fps))
    pose = actions.walk(T, fps, np.random.default_rng(seed), speed, 1.0)
    pose[:, P["yaw"]] = 90.0  # walking along screen x, so x is its forward direction
    screen = place_on_screen(pose, fps)
    lateral = body_frame_joints(pose)[..., 1]
    return np.stack([screen[..., 0], screen[..., 1], -lateral], axis=-1)


def _lerp(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return a + w * (b - a)


def write_kitml(root: Path, name: str, J: np.ndarray, caption: str) -> Path:
    """``root/new_joints/<name>.npy`` (21 joints, mm) and ``root/texts/<name>.txt``."""
    out = np.zeros((len(J), 21, 3))
    for ours, k in KIT21.items():
        out[:, k] = J[:, JI[ours]]
    out[:, 1] = _lerp(J[:, JI["pelvis_center"]], J[:, JI["chest"]], 0.5)
    fwd = np.array([0.1, 0.0, 0.0])
    for ankle, meta, toe in ((13, 14, 15), (18, 19, 20)):
        out[:, meta], out[:, toe] = out[:, ankle] + fwd - [0, 0.05, 0], out[:, ankle] + 1.6 * fwd - [0, 0.06, 0]
    (root / "new_joints").mkdir(parents=True, exist_ok=True)
    (root / "texts").mkdir(exist_ok=True)
    np.save(root / "new_joints" / f"{name}.npy", (out * 1000).astype(np.float32))
    (root / "texts" / f"{name}.txt").write_text(f"{caption}#a/DET#0.0#0.0\nsomeone moves#x#0.0#0.0\n")
    return root / "new_joints" / f"{name}.npy"


def coco17(J: np.ndarray) -> np.ndarray:
    """``[T, 17, 3]`` COCO keypoints of our joints (face points around the head centre)."""
    kp = np.zeros((len(J), 17, 3))
    for n, k in COCO17.items():
        if n in JI:
            kp[:, k] = J[:, JI[n]]
    head = J[:, JI["head_center"]]
    kp[:, COCO17["nose"]] = head + [0.10, 0.0, 0.0]
    kp[:, COCO17["l_eye"]], kp[:, COCO17["r_eye"]] = head + [0.08, 0.03, -0.03], head + [0.08, 0.03, 0.03]
    kp[:, COCO17["l_ear"]], kp[:, COCO17["r_ear"]] = head + [0.0, 0.0, -0.08], head + [0.0, 0.0, 0.08]
    return kp


def write_aist(root: Path, name: str, J: np.ndarray, legacy_numpy: bool = False) -> Path:
    """``root/keypoints3d/<name>.pkl``: cm, one lost frame (NaN) in the raw keypoints; with
    ``legacy_numpy`` the globals are numpy 1.x's (``numpy.core``), as the published files have."""
    kp = coco17(J) * 100
    raw = kp.copy()
    raw[3] = np.nan
    data = pickle.dumps({"keypoints3d": raw, "keypoints3d_optim": kp, "smpl_loss": np.float64(0.5)}, protocol=2)
    if legacy_numpy:
        data = data.replace(b"numpy._core", b"numpy.core")
    (root / "keypoints3d").mkdir(parents=True, exist_ok=True)
    (root / "keypoints3d" / f"{name}.pkl").write_bytes(data)
    return root / "keypoints3d" / f"{name}.pkl"


def kinect25(J: np.ndarray) -> np.ndarray:
    """``[T, 25, 3]`` Kinect v2 joints of our joints."""
    out = np.zeros((len(J), 25, 3))
    for ours, k in KINECT25.items():
        out[:, k] = J[:, JI[ours]]
    out[:, 20] = _lerp(J[:, JI["neck"]], J[:, JI["chest"]], 0.2)
    for wrist, hand, tip, thumb in ((6, 7, 21, 22), (10, 11, 23, 24)):
        out[:, hand] = out[:, tip] = out[:, thumb] = out[:, wrist] + [0, -0.08, 0]
    out[:, 15], out[:, 19] = out[:, 14] + [0.1, -0.05, 0], out[:, 18] + [0.1, -0.05, 0]
    return out


def write_ntu(path: Path, actors: list[np.ndarray], present: list[np.ndarray] | None = None,
              noise_frames: int = 0) -> Path:
    """An NTU ``.skeleton`` file of ``actors`` (each ``[T, 16, 3]`` metres at 30 fps), seen from a
    camera 3 m away; ``present[a]`` marks the frames actor a is tracked in; a still 'body' (a
    chair) is added for ``noise_frames`` frames."""
    T = len(actors[0])
    present = present or [np.ones(T, bool)] * len(actors)
    joints = [kinect25(J) + [0.0, -0.5, 3.0] for J in actors]
    chair = np.tile(kinect25(actors[0][:1]) * 0.3 + [1.0, -0.8, 4.0], (T, 1, 1))
    lines = [str(T)]
    for f in range(T):
        bodies = [(f"7205759403791{a:04d}", joints[a][f]) for a in range(len(actors)) if present[a][f]]
        if f < noise_frames:
            bodies.append(("72057594037999999", chair[f]))
        lines.append(str(len(bodies)))
        for body_id, xyz in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 -0.05 0.1 2")
            lines.append("25")
            lines += [f"{x:.6f} {y:.6f} {z:.6f} 250.1 200.2 900.3 500.4 0.1 0.2 0.3 0.9 2" for x, y, z in xyz]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


#: 100STYLE's rig: (name, parent, our joint or how to place it)
STYLE100_RIG = (
    ("Hips", None, "pelvis_center"), ("Chest", "Hips", ("pelvis_center", "chest", 0.4)),
    ("Chest2", "Chest", ("pelvis_center", "chest", 0.8)), ("Chest3", "Chest2", "chest"),
    ("Chest4", "Chest3", ("chest", "neck", 0.5)), ("Neck", "Chest4", "neck"), ("Head", "Neck", "head_center"),
    ("RightCollar", "Chest4", ("neck", "r_shoulder", 0.4)), ("RightShoulder", "RightCollar", "r_shoulder"),
    ("RightElbow", "RightShoulder", "r_elbow"), ("RightWrist", "RightElbow", "r_wrist"),
    ("LeftCollar", "Chest4", ("neck", "l_shoulder", 0.4)), ("LeftShoulder", "LeftCollar", "l_shoulder"),
    ("LeftElbow", "LeftShoulder", "l_elbow"), ("LeftWrist", "LeftElbow", "l_wrist"),
    ("RightHip", "Hips", "r_hip"), ("RightKnee", "RightHip", "r_knee"), ("RightAnkle", "RightKnee", "r_ankle"),
    ("LeftHip", "Hips", "l_hip"), ("LeftKnee", "LeftHip", "l_knee"), ("LeftAnkle", "LeftKnee", "l_ankle"),
)


def write_positions_bvh(path: Path, J: np.ndarray, fps: float, rig=STYLE100_RIG, unit: float = 100.0) -> Path:
    """A BVH of ``rig`` whose every joint carries position channels (its offset from its parent per
    frame), rest pose = frame 0; lengths in 1/``unit`` metres (cm by default)."""
    def place(how):
        if isinstance(how, str):
            return J[:, JI[how]]
        a, b, w = how
        return _lerp(J[:, JI[a]], J[:, JI[b]], w)

    world = {name: place(how) * unit for name, _, how in rig}
    children: dict[str | None, list[str]] = {}
    for name, parent, _ in rig:
        children.setdefault(parent, []).append(name)
    local = {name: world[name] - (world[parent] if parent else 0) for name, parent, _ in rig}
    out: list[str] = ["HIERARCHY"]

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        kw = "ROOT" if depth == 0 else "JOINT"
        o = local[name][0] if depth else np.zeros(3)
        out.extend([f"{pad}{kw} {name}", f"{pad}{{", f"{pad}  OFFSET {o[0]:.4f} {o[1]:.4f} {o[2]:.4f}",
                    f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
                    if depth == 0 else f"{pad}  CHANNELS 3 Xposition Yposition Zposition"])
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name not in children:
            out.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0.0 {0.02 * unit:.4f} 0.0", f"{pad}  }}"])
        out.append(f"{pad}}}")

    emit(rig[0][0], 0)
    order = [n for n in _preorder(rig[0][0], children)]
    rows = []
    for t in range(len(J)):
        vals = []
        for n in order:
            vals += list(local[n][t]) + ([0.0, 0.0, 0.0] if n == rig[0][0] else [])
        rows.append(" ".join(f"{v:.4f}" for v in vals))
    out += ["MOTION", f"Frames: {len(J)}", f"Frame Time: {1.0 / fps:.6f}", *rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


def _preorder(name: str, children: dict) -> list[str]:
    return [name] + [n for c in children.get(name, []) for n in _preorder(c, children)]
