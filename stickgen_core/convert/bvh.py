"""BVH files of any rig -> canonical samples.

The parser is ours (about 60 lines): the BVH grammar is small, and reading the MOTION block
as one numpy array is what makes it fast; the PyPI parsers either return every value as a
string per joint and frame (``bvh``) or bring their own scene graph and maths library
(``bvhio`` + PyGLM) where only positions are needed. Rotations use
``scipy.spatial.transform.Rotation`` with each joint's own channel order (intrinsic, as
BVH means it), batched over all frames. Joint names are matched to our 16 joints through
``RIG_NAMES`` (CMU, Mixamo, MocapBank and generic names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..schema import JOINT_NAMES
from .joints3d import Track3D

#: Our joint -> BVH joint names that place it, best first (compared lower-case, without
#: namespaces such as ``mixamorig:`` and without ``_``, ``-`` and spaces).
RIG_NAMES: dict[str, tuple[str, ...]] = {
    "pelvis_center": ("hips", "pelvis", "hip", "root"),
    "chest": ("spine1", "chest", "spine2", "spine", "upperback", "lowerback", "torso"),
    "neck": ("neck", "neck1", "lowerneck"),
    "head_center": ("head",),
    "l_shoulder": ("leftarm", "leftupperarm", "leftshoulder", "lshoulder", "lupperarm", "larm"),
    "l_elbow": ("leftforearm", "leftelbow", "leftlowerarm", "lelbow", "lforearm"),
    "l_wrist": ("leftwrist", "lefthand", "lwrist", "lhand"),
    "r_shoulder": ("rightarm", "rightupperarm", "rightshoulder", "rshoulder", "rupperarm", "rarm"),
    "r_elbow": ("rightforearm", "rightelbow", "rightlowerarm", "relbow", "rforearm"),
    "r_wrist": ("rightwrist", "righthand", "rwrist", "rhand"),
    "l_hip": ("leftupleg", "lefthip", "leftthigh", "leftupperleg", "lhip", "lthigh", "lupleg"),
    "l_knee": ("leftleg", "leftknee", "leftlowerleg", "leftshin", "lknee", "lshin", "lleg"),
    "l_ankle": ("leftfoot", "leftankle", "lankle", "lfoot"),
    "r_hip": ("rightupleg", "righthip", "rightthigh", "rightupperleg", "rhip", "rthigh", "rupleg"),
    "r_knee": ("rightleg", "rightknee", "rightlowerleg", "rightshin", "rknee", "rshin", "rleg"),
    "r_ankle": ("rightfoot", "rightankle", "rankle", "rfoot"),
}


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    end_site: np.ndarray | None = None
    first_channel: int = 0


@dataclass
class Bvh:
    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray              # [T, channels]
    path: str = ""
    names: dict[str, int] = field(default_factory=dict)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.split(":")[-1].lower())


def parse_bvh(path: str | Path) -> Bvh:
    """The hierarchy and motion of a BVH file; DatasetError naming the file and line on bad syntax."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read ({exc})", p) from None
    head, sep, body = text.partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise DatasetError(f"{p}: not a BVH file (expected HIERARCHY and MOTION sections)", p)
    tokens = head.split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    n_channels, i, pending_end = 0, tokens.index("HIERARCHY") + 1, False
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                joints.append(BvhJoint(tokens[i + 1], stack[-1] if stack else -1, np.zeros(3), []))
                i += 2
            elif tok == "End":
                pending_end, i = True, i + 2
            elif tok == "{":
                stack.append(-2 if pending_end else len(joints) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                pending_end, i = False, i + 1
            elif tok == "OFFSET":
                off = np.array([float(v) for v in tokens[i + 1: i + 4]])
                if stack and stack[-1] == -2:
                    joints[[s for s in stack if s >= 0][-1]].end_site = off
                else:
                    joints[-1].offset = off
                i += 4
            elif tok == "CHANNELS":
                k = int(tokens[i + 1])
                joints[-1].channels = tokens[i + 2: i + 2 + k]
                joints[-1].first_channel = n_channels
                n_channels += k
                i += 2 + k
            else:
                raise ValueError(f"unexpected token {tok!r}")
        m = re.search(r"Frames:\s*(\d+)\s*Frame Time:\s*([0-9.eE+-]+)", body)
        if not m:
            raise ValueError("MOTION section without 'Frames:' and 'Frame Time:'")
        frames, frame_time = int(m.group(1)), float(m.group(2))
        values = np.array(body[m.end():].split(), dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise DatasetError(f"{p}: malformed BVH ({exc})", p) from None
    if frame_time <= 0 or not joints:
        raise DatasetError(f"{p}: malformed BVH (frame time {frame_time}, {len(joints)} joints)", p)
    if values.size < frames * n_channels or n_channels == 0:
        raise DatasetError(f"{p}: MOTION holds {values.size} values, expected {frames} frames x {n_channels} channels", p)
    motion = values[: frames * n_channels].reshape(frames, n_channels)
    return Bvh(joints, frame_time, motion, str(p), {_norm(j.name): k for k, j in enumerate(joints)})


def world_positions(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """Per joint ``[T, J, 3]`` positions and ``[T, J, 3]`` end-site positions (nan where none)."""
    T, J = len(bvh.motion), len(bvh.joints)
    pos = np.zeros((T, J, 3))
    ends = np.full((T, J, 3), np.nan)
    # imported here: scipy.spatial costs ~0.7 s at import, and the studio imports this module at start
    from scipy.spatial.transform import Rotation

    rots: list[Rotation] = []
    for k, j in enumerate(bvh.joints):  # parents come before children in a BVH hierarchy
        ch = bvh.motion[:, j.first_channel: j.first_channel + len(j.channels)]
        local = np.tile(j.offset, (T, 1))
        for c, name in enumerate(j.channels):
            axis = "XYZ".index(name[0].upper())
            if name.lower().endswith("position"):
                local[:, axis] = ch[:, c] if j.parent >= 0 else local[:, axis] + ch[:, c]
        rot_ch = [(c, name[0].upper()) for c, name in enumerate(j.channels) if name.lower().endswith("rotation")]
        r = (Rotation.from_euler("".join(a for _, a in rot_ch), ch[:, [c for c, _ in rot_ch]], degrees=True)
             if rot_ch else Rotation.identity(T))
        if j.parent < 0:
            pos[:, k] = local
            rots.append(r)
        else:
            pos[:, k] = pos[:, j.parent] + rots[j.parent].apply(local)
            rots.append(rots[j.parent] * r)
        if j.end_site is not None:
            ends[:, k] = pos[:, k] + rots[k].apply(np.tile(j.end_site, (T, 1)))
    return pos, ends


def map_rig(bvh: Bvh) -> dict[str, int]:
    """Our joint -> BVH joint index; DatasetError naming every joint that could not be placed."""
    found: dict[str, int] = {}
    for ours, names in RIG_NAMES.items():
        for n in names:
            if n in bvh.names:
                found[ours] = bvh.names[n]
                break
    missing = [j for j in JOINT_NAMES if j not in found]
    if missing:
        raise DatasetError(f"{bvh.path}: cannot place joint(s) {', '.join(missing)} of the stick figure on this rig "
                           f"(its joints: {', '.join(j.name for j in bvh.joints)}); expected names like "
                           f"{', '.join(RIG_NAMES[m][0] for m in missing)}", bvh.path)
    return found


def read_bvh(path: str | Path) -> Track3D:
    """A BVH file as our 16 joints in 3-D (file units and axes)."""
    bvh = parse_bvh(path)
    rig = map_rig(bvh)
    pos, ends = world_positions(bvh)
    J = pos[:, [rig[n] for n in JOINT_NAMES]]
    head = rig["head_center"]
    if not np.isnan(ends[0, head, 0]):  # the head joint sits at the skull base: centre = halfway to its tip
        J[:, JOINT_NAMES.index("head_center")] = 0.5 * (pos[:, head] + ends[:, head])
    meta = {"format": "bvh", "rig_joints": {n: bvh.joints[i].name for n, i in rig.items()}}
    return Track3D(J, 1.0 / bvh.frame_time, str(path), meta)
