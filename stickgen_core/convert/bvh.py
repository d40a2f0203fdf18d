"""BVH files of any rig -> our 16 joints in 3-D.

The parser is ours (the BVH grammar is small, and reading the MOTION block as one numpy
array is what makes it fast); it checks every count and refuses malformed structure (a
second ROOT, ``JOINT`` outside a joint, an unclosed ``{``, channel names other than
``X|Y|Z`` + ``position|rotation``, repeated axes, ``Frames: 0``) with one line naming the
file and line. The file is read with a bounded read (``STICKGEN_MAX_BVH_BYTES``). Rotations
use ``scipy.spatial.transform.Rotation`` with each joint's own channel order (intrinsic, as
BVH means it), batched over all frames. Which joints are ours is ``rig.match_rig``'s job
(names with side markers and synonyms, then topology).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..limits import BVH_BYTES, read_bounded
from ..schema import JOINT_NAMES
from .joints3d import Track3D
from .rig import RigMap, match_rig

log = logging.getLogger(__name__)
_CHANNEL = re.compile(r"^([XYZ])(position|rotation)$", re.I)
_TOKEN = re.compile(r"(?P<joint>ROOT|JOINT)[ \t]+(?P<name>[^\r\n{}]*)|(?P<end>End[ \t]+Site)|(?P<word>[^\s]+)")


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


class _Syntax(ValueError):
    """A malformed hierarchy, with the line it was found on."""


def _tokens(head: str) -> list[tuple[str, str, int]]:
    out, line, pos = [], 1, 0
    for m in _TOKEN.finditer(head):
        line += head.count("\n", pos, m.start())
        pos = m.start()
        if m.group("joint"):
            out.append((m.group("joint"), m.group("name").strip(), line))
        elif m.group("end"):
            out.append(("End", "", line))
        else:
            out.append((m.group("word"), "", line))
    return out


def _numbers(toks: list[tuple[str, str, int]], i: int, n: int, what: str) -> list[float]:
    try:
        vals = [float(t[0]) for t in toks[i: i + n]]
    except ValueError:
        vals = []
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise _Syntax(f"line {toks[i - 1][2]}: {what} expects {n} finite numbers")
    return vals


def _channels(toks: list, i: int, joint: BvhJoint) -> tuple[list[str], int]:
    """The names of a ``CHANNELS k ...`` statement and the index after it; every count checked."""
    line = toks[i][2]
    try:
        k = int(toks[i + 1][0])
    except (ValueError, IndexError):
        raise _Syntax(f"line {line}: CHANNELS of joint {joint.name!r} expects a count") from None
    if not 0 <= k <= 6:
        raise _Syntax(f"line {line}: CHANNELS {k} of joint {joint.name!r}: expected a count from 0 to 6")
    names = [t[0] for t in toks[i + 2: i + 2 + k]]
    if len(names) != k or any(not _CHANNEL.match(c) for c in names):
        bad = next((c for c in names if not _CHANNEL.match(c)), "(missing)")
        raise _Syntax(f"line {line}: joint {joint.name!r} has channel {bad!r}; expected "
                      f"Xposition|Yposition|Zposition|Xrotation|Yrotation|Zrotation")
    for kind in ("position", "rotation"):
        axes = [c[0].upper() for c in names if c.lower().endswith(kind)]
        if len(axes) != len(set(axes)):
            raise _Syntax(f"line {line}: joint {joint.name!r} repeats a {kind} axis ({' '.join(names)}); "
                          f"expected each of X, Y, Z at most once")
    return names, i + 2 + k


def _hierarchy(head: str) -> tuple[list[BvhJoint], int]:
    toks = _tokens(head)
    if not toks or toks[0][0] != "HIERARCHY":
        raise _Syntax("expected the file to start with HIERARCHY")
    joints: list[BvhJoint] = []
    stack: list[int] = []            # joint index per open brace; -1 for an End Site
    pending: str | None = None       # "joint" or "end" until its "{"
    n_channels, i = 0, 1
    while i < len(toks):
        tok, name, line = toks[i]
        if pending and tok != "{":
            raise _Syntax(f"line {line}: expected '{{' after {'End Site' if pending == 'end' else 'the joint name'}, got {tok!r}")
        if tok in ("ROOT", "JOINT"):
            if tok == "ROOT" and (joints or stack):
                raise _Syntax(f"line {line}: a second ROOT ({name!r}); one skeleton per file is read")
            if tok == "JOINT" and (not stack or stack[-1] < 0):
                raise _Syntax(f"line {line}: JOINT {name!r} outside a joint's braces (expected ROOT first)")
            if not name:
                raise _Syntax(f"line {line}: {tok} without a name")
            joints.append(BvhJoint(name, stack[-1] if stack else -1, np.zeros(3), []))
            pending, i = "joint", i + 1
        elif tok == "End":
            if not stack or stack[-1] < 0:
                raise _Syntax(f"line {line}: End Site outside a joint's braces")
            pending, i = "end", i + 1
        elif tok == "{":
            if not pending:
                raise _Syntax(f"line {line}: '{{' without a joint or End Site before it")
            stack.append(-1 if pending == "end" else len(joints) - 1)
            pending, i = None, i + 1
        elif tok == "}":
            if not stack:
                raise _Syntax(f"line {line}: '}}' without a matching '{{'")
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            if not stack:
                raise _Syntax(f"line {line}: OFFSET outside a joint's braces")
            off = np.array(_numbers(toks, i + 1, 3, "OFFSET"))
            owner = [s for s in stack if s >= 0][-1]
            if stack[-1] < 0:
                joints[owner].end_site = off
            else:
                joints[owner].offset = off
            i += 4
        elif tok == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise _Syntax(f"line {line}: CHANNELS outside a joint's braces")
            j = joints[stack[-1]]
            if j.channels:
                raise _Syntax(f"line {line}: joint {j.name!r} has a second CHANNELS line")
            j.channels, i = _channels(toks, i, j)
            j.first_channel, n_channels = n_channels, n_channels + len(j.channels)
        else:
            raise _Syntax(f"line {line}: unexpected {tok[:40]!r}")
        if len(joints) > 10_000:
            raise _Syntax("more than 10,000 joints")
    if pending or stack:
        raise _Syntax(f"the hierarchy ends with {len(stack)} '{{' not closed by '}}'" if stack
                      else "the hierarchy ends before a joint's '{'")
    if not joints:
        raise _Syntax("no ROOT joint")
    return joints, n_channels


def parse_bvh(path: str | Path) -> Bvh:
    """The hierarchy and motion of a BVH file; DatasetError naming the file and what is wrong."""
    p = Path(path)
    text = read_bounded(p, BVH_BYTES, "a BVH file", lambda msg: DatasetError(msg, p)).decode("utf-8", errors="replace")
    head, sep, body = text.lstrip("\ufeff").partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise DatasetError(f"{p}: not a BVH file (expected HIERARCHY and MOTION sections)", p)
    try:
        joints, n_channels = _hierarchy(head)
    except _Syntax as exc:
        raise DatasetError(f"{p}: malformed BVH hierarchy: {exc}", p) from None
    m = re.match(r"\s*Frames:\s*(\S+)\s*Frame\s+Time:\s*(\S+)", body)
    if not m:
        raise DatasetError(f"{p}: malformed BVH: MOTION without 'Frames: N' and 'Frame Time: SECONDS'", p)
    try:
        frames, frame_time = int(m.group(1)), float(m.group(2))
    except ValueError:
        raise DatasetError(f"{p}: malformed BVH: 'Frames: {m.group(1)[:20]}' / 'Frame Time: {m.group(2)[:20]}' "
                           f"are not a whole number and a number of seconds", p) from None
    if frames < 2:
        raise DatasetError(f"{p}: 'Frames: {frames}': expected at least 2 frames of motion", p)
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise DatasetError(f"{p}: 'Frame Time: {m.group(2)[:20]}': expected a positive number of seconds", p)
    if n_channels == 0:
        raise DatasetError(f"{p}: the hierarchy declares no channels (no motion to read)", p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy only warns when a value is not a number
        try:
            values = np.fromstring(body[m.end():], dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            raise DatasetError(f"{p}: malformed BVH: the MOTION block holds a value that is not a number", p) from None
    if values.size < frames * n_channels:
        raise DatasetError(f"{p}: MOTION holds {values.size} values, expected {frames} frames x {n_channels} channels", p)
    if values.size % n_channels:  # a value lost or added shifts every later one: refuse rather than misread
        raise DatasetError(f"{p}: MOTION holds {values.size} values, not a whole number of frames of "
                           f"{n_channels} channels", p)
    if values.size > frames * n_channels:
        log.warning("%s: MOTION holds %d values beyond Frames: %d; they are ignored", p,
                    values.size - frames * n_channels, frames)
    motion = values[: frames * n_channels].reshape(frames, n_channels)
    if not np.isfinite(motion).all():
        bad = int(np.argwhere(~np.isfinite(motion))[0, 0])
        raise DatasetError(f"{p}: MOTION frame {bad} holds NaN or infinite values", p)
    return Bvh(joints, frame_time, motion, str(p), {j.name: k for k, j in enumerate(joints)})


def world_positions(bvh: Bvh, only: set[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per joint ``[T, J, 3]`` positions and ``[T, J, 3]`` end-site positions (nan where none);
    with ``only``, just those joints and their ancestors (the rest stay 0: fingers cost time)."""
    T, J = len(bvh.motion), len(bvh.joints)
    pos = np.zeros((T, J, 3))
    ends = np.full((T, J, 3), np.nan)
    # imported here: scipy.spatial costs ~0.7 s at import, and the studio imports this module at start
    from scipy.spatial.transform import Rotation

    rots: list[Rotation | None] = []
    if only is not None:
        keep = set()
        for k in only:
            while k >= 0 and k not in keep:
                keep.add(k)
                k = bvh.joints[k].parent
    for k, j in enumerate(bvh.joints):  # parents come before children in a BVH hierarchy
        if only is not None and k not in keep:
            rots.append(None)  # never read: no kept joint descends from it
            continue
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


def map_rig(bvh: Bvh) -> RigMap:
    """Our joints on this file's rig (``rig.match_rig``); DatasetError naming what is missing."""
    return match_rig(bvh.joints, bvh.path)


def read_bvh(path: str | Path) -> Track3D:
    """A BVH file as our 16 joints in 3-D (file units and axes)."""
    bvh = parse_bvh(path)
    rig = map_rig(bvh)
    pos, ends = world_positions(bvh, rig.joints_used())
    joints = rig.place(pos, ends)
    names = {n: bvh.joints[i].name for n, i in rig.index.items()}
    meta = {"format": "bvh", "rig_joints": names,
            "rig_placed_by": {n: rig.how[n] for n in JOINT_NAMES if rig.how.get(n, "name") != "name"}}
    return Track3D(joints, 1.0 / bvh.frame_time, str(path), meta)
