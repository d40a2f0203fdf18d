"""Anatomy of the v3 stick figure: a clip's rest proportions and per-frame body measures.

The v3 layout ties hips to the pelvis through shared joints (``schema.SHARED_JOINTS``) but
leaves the shoulders free: nothing but the data keeps an arm on the body. This module
measures what makes a figure a body, on any leading shape at once — ``[T, 48]``,
``[T, A, 48]`` (actors) or ``[N, T, 48]`` (a padded batch, with a ``[N, T]`` mask):

* **rest lengths** per clip: a high percentile of each bone's 2-D length over the clip
  (a projection only ever shortens a bone, so the long frames show its true length), with
  left and right limbs sharing the longer of the two;
* **attachment**: each shoulder's distance to the neck→chest segment and each hip's
  distance to the pelvis centre;
* **bone ratios**: each rigid bone's length over its rest length (above 1 = stretched);
* **joint-angle proxies**: an elbow or knee bent the wrong way (against the facing the
  other limbs agree on, judged only in side-on frames where a 2-D bend means something),
  and the head below the shoulders;
* **height**: the standing chain (head, trunk, leg) over its rest length — crouching bends
  the chain but never shortens or lengthens it.

Distances are in *standard metres*: metres of a figure scaled to ``STANDARD_HEIGHT`` by its
own rest height, so one limit fits data of any scale (the reference files are ~3 units tall).
``AnatomyLimits`` holds the ranges, fitted on clean curated synthetic clips and the real
captures; refit with ``python tests/benchmarks/fit_anatomy.py`` (its docstring has the
figures of the last fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .frame_runs import runs
from .schema import JOINT_INDEX, SEGMENT_NAMES
from .skeleton import segments_to_joints

STANDARD_HEIGHT = 1.75
#: Degrees a limb must bend to count in the facing vote (below it the limb is straight).
FACING_MIN_BEND = 1.0
#: The percentile of a bone's length over a clip taken as its rest length.
REST_PERCENTILE = 95.0
#: Rigid bones (pelvis_width foreshortens with yaw) and the other side's bone of each.
RIGID = tuple(range(11))
_MIRROR = np.array([0, 1, 2, 5, 6, 3, 4, 9, 10, 7, 8, 11])
_J = JOINT_INDEX
#: Limbs the attachment measures name, in the order of ``BodyMeasures.gap``'s last axis.
LIMBS = ("left arm", "right arm", "left leg", "right leg")
#: Joints the bend measures name, in the order of ``BodyMeasures.wrong_bend``'s last axis.
BEND_JOINTS = ("left elbow", "right elbow", "left knee", "right knee")
# (upper joint, middle joint, lower joint, sense): sense turns each joint's flexion into the
# same rotational direction (an elbow flexes the forearm forwards, a knee the shin backwards)
_BENDS = (("l_shoulder", "l_elbow", "l_wrist", 1.0), ("r_shoulder", "r_elbow", "r_wrist", 1.0),
          ("l_hip", "l_knee", "l_ankle", -1.0), ("r_hip", "r_knee", "r_ankle", -1.0))
_BEND_BONES = ((3, 4), (5, 6), (7, 8), (9, 10))


@dataclass(frozen=True)
class AnatomyLimits:
    """What a body may do, per frame. Defaults are the fitted values (see the module docstring)."""

    max_shoulder_gap: float = 0.30   # standard m from a shoulder to the neck->chest segment
    max_hip_gap: float = 0.20        # standard m from a hip to the pelvis centre
    max_bone_stretch: float = 0.25   # a bone longer than its rest length x (1 + this) is stretched
    max_bone_variation: float = 0.20  # mean coefficient of variation of the rigid bones' lengths over a clip
    max_wrong_bend: float = 30.0     # degrees an elbow/knee bends against the body's facing (side-on frames)
    max_head_drop: float = 0.15      # standard m the head centre may sit below the shoulders' midpoint
    max_height_gain: float = 0.10    # standing chain above rest x (1 + this): the figure grows
    min_height_ratio: float = 0.55   # standing chain below rest x this: the figure shrinks (a turn foreshortens legs)

    def __post_init__(self) -> None:
        from .errors import ConfigError

        for name, value in self.__dict__.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ConfigError(f"anatomy limit {name}: expected a number >= 0, got {value!r}")


@dataclass(frozen=True)
class BodyReach:
    """How far generation and training let a limb sit from the body: the clean data's 99th percentile
    per frame (standard m), tighter than ``AnatomyLimits`` (which pass the worst frame of every clean clip).
    Fitted by ``tests/benchmarks/fit_anatomy.py`` (``--reach``)."""

    shoulder_gap: float = 0.180  # a shoulder to the neck->chest segment (3,271 curated clips: p99 0.180, max 0.189)
    hip_gap: float = 0.106       # a hip to the pelvis centre (p99 0.106, max 0.110)
    # shortest share of its reference length (the clip's first frame) a bone shows: the data's 5th percentile
    # (left and right pooled); a rebuild down to the 1st percentile still varied bones by 0.050 (data: 0.031)
    head_share: float = 0.95
    torso_share: float = 0.95
    upper_arm_share: float = 0.83
    forearm_share: float = 0.79
    thigh_share: float = 0.80
    shin_share: float = 0.89
    wrong_bend: float = 0.0      # degrees an elbow or knee may bend against the facing (side-on frames)

    def bone_shares(self) -> tuple[float, ...]:
        """The share per rigid bone, in ``RIGID`` (segment) order."""
        t, a, f, th, sh = self.torso_share, self.upper_arm_share, self.forearm_share, self.thigh_share, self.shin_share
        return (self.head_share, t, t, a, f, a, f, th, sh, th, sh)


@dataclass
class BodyMeasures:
    """Per-frame measures, each ``[..., T, k]`` (or ``[..., T]``) like the motion's leading shape."""

    rest: np.ndarray          # [..., 1, 12] rest lengths (native units)
    scale: np.ndarray         # [..., 1] standard metres per native unit
    gap: np.ndarray           # [..., T, 4] attachment gap of LIMBS (standard m)
    bone_ratio: np.ndarray    # [..., T, 11] length / rest of the rigid bones
    wrong_bend: np.ndarray    # [..., T, 4] degrees BEND_JOINTS bend against the facing (0 where fine or not judged)
    head_drop: np.ndarray     # [..., T] standard m the head centre sits below the shoulders' midpoint
    height_ratio: np.ndarray  # [..., T] standing chain length / its rest length


def rest_lengths(motion: np.ndarray, mask: np.ndarray | None = None, time_axis: int = -2,
                 percentile: float = REST_PERCENTILE) -> np.ndarray:
    """Each bone's rest length over the clip, ``[..., 1, 12]`` with the time axis kept (so it
    broadcasts against per-frame lengths); ``mask`` (``motion.shape[:-1]``) marks real frames."""
    seg = np.asarray(motion, dtype=np.float32).reshape(*np.shape(motion)[:-1], 12, 4)
    L = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])
    if mask is not None:
        L = np.where(np.asarray(mask, bool)[..., None], L, np.nan)
    rest = _nan_percentile(L, percentile, time_axis)
    return np.maximum(rest, rest[..., _MIRROR])  # a limb turned away on one side keeps its twin's length


def _nan_percentile(x: np.ndarray, q: float, axis: int) -> np.ndarray:
    """The ``q``-th percentile (linear) over ``axis`` of every row at once, NaN (padding) left out;
    0 for a row with no value. ``np.nanpercentile`` does the same one row at a time (~100x slower)."""
    xs = np.sort(np.moveaxis(x, axis, -1), axis=-1)  # NaN sorts last
    n = np.isfinite(xs).sum(-1, keepdims=True)
    pos = (q / 100.0) * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a, b = np.take_along_axis(xs, lo, -1), np.take_along_axis(xs, hi, -1)
    out = np.where(n > 0, a + (pos - lo) * (b - a), 0.0)
    return np.nan_to_num(np.moveaxis(out, -1, axis), nan=0.0)


def _rest_height(rest: np.ndarray) -> np.ndarray:
    """Standing height from rest lengths: head + trunk + the mean leg."""
    return rest[..., 0] + rest[..., 1] + rest[..., 2] + 0.5 * (rest[..., 7] + rest[..., 8] + rest[..., 9] + rest[..., 10])


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)


def measure(motion: np.ndarray, mask: np.ndarray | None = None, time_axis: int = -2,
            side_on: float = 0.5, min_bone_share: float = 0.6) -> BodyMeasures:
    """Per-frame anatomy measures of ``motion`` (``[..., 48]``; frames along ``time_axis``).

    A bend is judged where the figure is side-on (hip and shoulder widths under ``side_on`` of
    their rest) and both of the joint's bones show at least ``min_bone_share`` of their rest
    length (a limb pointing at the camera has no readable bend).
    """
    m = np.asarray(motion, dtype=np.float32)
    if time_axis not in (-2, m.ndim - 2):  # bring frames next to the coordinates
        m = np.moveaxis(m, time_axis, -2)
        mask = None if mask is None else np.moveaxis(np.asarray(mask), time_axis, -1)
    rest = rest_lengths(m, mask)
    H = _rest_height(rest)
    scale = np.where(H > 1e-9, STANDARD_HEIGHT / np.maximum(H, 1e-9), 0.0)          # [..., 1]
    seg = m.reshape(*m.shape[:-1], 12, 4)
    L = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])              # [..., T, 12]
    J = segments_to_joints(m)                                                        # [..., T, 16, 2]
    neck, chest, pelvis = J[..., _J["neck"], :], J[..., _J["chest"], :], J[..., _J["pelvis_center"], :]
    gap = np.stack([_point_segment_distance(J[..., _J["l_shoulder"], :], neck, chest),
                    _point_segment_distance(J[..., _J["r_shoulder"], :], neck, chest),
                    np.linalg.norm(J[..., _J["l_hip"], :] - pelvis, axis=-1),
                    np.linalg.norm(J[..., _J["r_hip"], :] - pelvis, axis=-1)], axis=-1) * scale[..., None]
    with np.errstate(all="ignore"):
        ratio = np.where(rest[..., :11] > 1e-9, L[..., :11] / rest[..., :11], 1.0)
    wrong = _wrong_bends(J, L, rest, side_on, min_bone_share, mask)
    shoulders_y = 0.5 * (J[..., _J["l_shoulder"], 1] + J[..., _J["r_shoulder"], 1])
    head_drop = (shoulders_y - J[..., _J["head_center"], 1]) * scale
    chain = L[..., 0] + L[..., 1] + L[..., 2] + 0.5 * (L[..., 7] + L[..., 8] + L[..., 9] + L[..., 10])
    height = np.where(H > 1e-9, chain / np.maximum(H, 1e-9), 1.0)
    return BodyMeasures(rest, scale, gap, ratio, wrong, head_drop, height)


def _wrong_bends(J: np.ndarray, L: np.ndarray, rest: np.ndarray, side_on: float, min_share: float,
                 mask: np.ndarray | None) -> np.ndarray:
    """Degrees each elbow/knee bends against the facing its judged neighbours agree on."""
    bends, judged = [], []
    for (a, b, c, sense), (ba, bb) in zip(_BENDS, _BEND_BONES):
        u = J[..., _J[b], :] - J[..., _J[a], :]
        v = J[..., _J[c], :] - J[..., _J[b], :]
        ang = np.degrees(np.arctan2(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0], (u * v).sum(-1)))
        bends.append(sense * ang)
        with np.errstate(all="ignore"):
            visible = (L[..., ba] >= min_share * rest[..., ba]) & (L[..., bb] >= min_share * rest[..., bb])
        judged.append(visible & (rest[..., ba] > 1e-9) & (rest[..., bb] > 1e-9))
    bend, ok = np.stack(bends, -1), np.stack(judged, -1)                        # [..., T, 4]
    hip_w = np.linalg.norm(J[..., _J["l_hip"], :] - J[..., _J["r_hip"], :], axis=-1)
    sh_w = np.linalg.norm(J[..., _J["l_shoulder"], :] - J[..., _J["r_shoulder"], :], axis=-1)
    sh_rest = _nan_percentile(sh_w if mask is None else np.where(mask, sh_w, np.nan), REST_PERCENTILE, -1)
    with np.errstate(all="ignore"):
        side = ((hip_w <= side_on * rest[..., 11]) | (rest[..., 11] <= 1e-9)) & (sh_w <= side_on * sh_rest)
    ok &= side[..., None]
    b = np.where(ok, bend, 0.0)
    # the facing: the sign most of the judged bend agrees on, each joint counted without itself; a
    # straight limb has no say (the sign of its rounding-level bend would pick a facing at random)
    b = np.where(np.abs(b) > FACING_MIN_BEND, b, 0.0)
    total = b.sum(-1, keepdims=True)
    facing = np.sign(total - b)
    return np.where(ok & (facing != 0), np.clip(-facing * bend, 0.0, None), 0.0)


def bone_variation(motion: np.ndarray, time_axis: int = -2) -> np.ndarray:
    """Mean coefficient of variation of the rigid bones' lengths over the frames (what
    ``metrics``' ``limb_length_cv`` reads), one value per clip/actor."""
    m = np.asarray(motion, dtype=np.float64)
    if time_axis not in (-2, m.ndim - 2):
        m = np.moveaxis(m, time_axis, -2)
    seg = m.reshape(*m.shape[:-1], 12, 4)[..., :11, :]
    L = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])
    mean = L.mean(-2)
    return (L.std(-2) / np.maximum(mean, 1e-6)).mean(-1)


def violations(x: BodyMeasures, limits: AnatomyLimits = AnatomyLimits()) -> dict[str, np.ndarray]:
    """Per-frame boolean flags of ``limits`` broken: ``detached`` ``[..., T, 4]`` (LIMBS),
    ``stretched`` ``[..., T, 11]`` (bones), ``wrong_bend`` ``[..., T, 4]`` (BEND_JOINTS),
    ``head_below`` ``[..., T]`` and ``height_change`` ``[..., T]``. A value exactly at a limit passes."""
    sh = x.gap[..., :2] > limits.max_shoulder_gap
    hip = x.gap[..., 2:] > limits.max_hip_gap
    return {"detached": np.concatenate([sh, hip], -1),
            "stretched": x.bone_ratio > 1.0 + limits.max_bone_stretch,
            "wrong_bend": x.wrong_bend > limits.max_wrong_bend,
            "head_below": x.head_drop > limits.max_head_drop,
            "height_change": (x.height_ratio > 1.0 + limits.max_height_gain) | (x.height_ratio < limits.min_height_ratio)}


def bone_name(i: int) -> str:
    """``l_upper_arm`` -> ``left upper arm``."""
    n = SEGMENT_NAMES[i]
    return n.replace("l_", "left ", 1).replace("r_", "right ", 1).replace("_", " ") if n[:2] in ("l_", "r_") \
        else n.replace("_", " ")


#: Prompt words whose action explains a head below the shoulders and a figure that seems to shrink.
LYING_WORDS = ("fall", "falls", "trip", "lie", "lies", "lying", "lay", "flip", "roll", "cartwheel", "handstand",
               "crawl", "somersault", "tumble", "bow", "bend", "kneel", "push-up", "pushup", "yoga", "breakdanc",
               "upside", "dive", "slide")


@dataclass
class Finding:
    """One broken limit: ``kind`` (detached_limb, bone_length, joint_limit, height_change), the
    limb, bone or joint it is about, frames ``[start, end)``, and a sentence for people."""

    kind: str
    part: str
    description: str
    frame_ranges: list[tuple[int, int]] = field(default_factory=list)


def explains_lying(prompt: str | None, words: tuple[str, ...] = LYING_WORDS) -> bool:
    """Whether ``prompt`` asks for an action that lies, falls or turns over."""
    p = (prompt or "").lower()
    return any(w in p for w in words)


def find_violations(motion: np.ndarray, limits: AnatomyLimits = AnatomyLimits(), prompt: str | None = None,
                    words: tuple[str, ...] = LYING_WORDS) -> tuple[list[Finding], list[str]]:
    """Every anatomy limit ``motion`` (``[T, 48]`` or ``[T, A, 48]``) breaks, one finding per limb,
    bone or joint, and notes on what the prompt explains (a head below the shoulders, a figure
    that shrinks, when it falls, lies or flips)."""
    m = np.asarray(motion, dtype=np.float64)
    m = np.moveaxis(m[:, None] if m.ndim == 2 else m, 1, 0)             # [A, T, 48]
    x = measure(m)
    v = {k: f.any(0) for k, f in violations(x, limits).items()}         # any actor, [T, ...]
    out: list[Finding] = []
    notes: list[str] = []
    for i, limb in enumerate(LIMBS):
        if v["detached"][:, i].any():
            limit = limits.max_shoulder_gap if i < 2 else limits.max_hip_gap
            where = "torso" if i < 2 else "pelvis"
            worst = float(x.gap[..., i].max())
            out.append(Finding("detached_limb", limb, f"the {limb} is up to {worst:.2f} m from the {where} (limit "
                               f"{limit:g} m on a {STANDARD_HEIGHT:g} m figure) on {int(v['detached'][:, i].sum())} frames",
                               runs(v["detached"][:, i])))
    for b in RIGID:
        if v["stretched"][:, b].any():
            worst = float(x.bone_ratio[..., b].max())
            out.append(Finding("bone_length", bone_name(b), f"the {bone_name(b)} stretches to {worst:.2f}x its rest "
                               f"length (limit {1 + limits.max_bone_stretch:.2f}x)", runs(v["stretched"][:, b])))
    cv = bone_variation(m)                                               # [A]
    if cv.max(initial=0.0) > limits.max_bone_variation:
        a = int(cv.argmax())
        seg = m[a].reshape(len(m[a]), 12, 4)[:, :11]
        L = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])
        bone_cv = L.std(0) / np.maximum(L.mean(0), 1e-6)
        b = int(bone_cv.argmax())
        med = max(float(np.median(L[:, b])), 1e-9)
        off = np.abs(L[:, b] / med - 1.0) > limits.max_bone_variation
        out.append(Finding("bone_length", bone_name(b), f"bone lengths vary by {cv.max():.0%} over the clip (limit "
                           f"{limits.max_bone_variation:.0%}); most of all the {bone_name(b)} ({bone_cv[b]:.0%})",
                           runs(off) or [(0, m.shape[1])]))
    for j, joint in enumerate(BEND_JOINTS):
        if v["wrong_bend"][:, j].any():
            worst = float(x.wrong_bend[..., j].max())
            out.append(Finding("joint_limit", joint, f"the {joint} bends {worst:.0f}° the wrong way (limit "
                               f"{limits.max_wrong_bend:g}°)", runs(v["wrong_bend"][:, j])))
    lying = explains_lying(prompt, words)
    if v["head_below"].any():
        worst = float(x.head_drop.max())
        if lying:
            notes.append(f"the prompt lies, falls or turns over: the head {worst:.2f} m below the shoulders is expected")
        else:
            out.append(Finding("joint_limit", "head", f"the head is {worst:.2f} m below the shoulders (limit "
                               f"{limits.max_head_drop:g} m)", runs(v["head_below"])))
    grow = (x.height_ratio > 1.0 + limits.max_height_gain).any(0)
    shrink = v["height_change"] & ~grow
    if shrink.any() and lying:
        notes.append(f"the prompt lies, falls or turns over: the figure shortening to "
                     f"{x.height_ratio.min():.2f}x its standing height is expected")
        shrink[:] = False
    if grow.any() or shrink.any():
        what = (f"grows to {x.height_ratio.max():.2f}x" if grow.any() else f"shrinks to {x.height_ratio.min():.2f}x")
        out.append(Finding("height_change", "body", f"the figure {what} its standing height with the same pose (limits "
                           f"{limits.min_height_ratio:g}x to {1 + limits.max_height_gain:g}x)", runs(grow | shrink)))
    return out, notes


def anatomy_metrics(motions: Sequence[np.ndarray], limits: AnatomyLimits = AnatomyLimits()) -> dict[str, np.ndarray]:
    """Per clip of ``motions`` (``[T, 48]`` or ``[T, A, 48]`` each; worst actor): the largest shoulder
    and hip gaps (m on a 1.75 m figure), the share of frames with an elbow or knee bent the wrong
    way, and the share of frames breaking any anatomy limit the data alone can judge (detached, stretched, bent the wrong way, grown or
    shrunk; a head below the shoulders needs the prompt, so the critic judges it)."""
    rows = [(ci, m) for ci, motion in enumerate(motions) for m in _actor_motions(motion)]
    n = len(motions)
    lengths = np.array([len(m) for _, m in rows])
    out = {k: np.zeros(n) for k in ("max_shoulder_gap", "max_hip_gap", "joint_limit_ratio", "anatomy_violation_ratio")}
    if not len(rows) or lengths.max() == 0:
        return out
    owner = np.array([ci for ci, _ in rows])
    # padded batches of rows of similar length (sorted), ~50k frames each: little padding, cache-sized arrays
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop + 1 - start) * lengths[order[stop]] <= _BATCH_FRAMES:
            stop += 1
        part = order[start:stop]
        if lengths[part].max() == 0:  # clips without frames: nothing to measure
            start = stop
            continue
        for k, val in _anatomy_rows([rows[i][1] for i in part], lengths[part], limits).items():
            np.maximum.at(out[k], owner[part], val)
        start = stop
    return out


_BATCH_FRAMES = 50_000


def _anatomy_rows(motions: list[np.ndarray], lengths: np.ndarray, limits: AnatomyLimits) -> dict[str, np.ndarray]:
    pad = np.zeros((len(motions), int(lengths.max()), 48), np.float32)
    mask = np.arange(pad.shape[1])[None, :] < lengths[:, None]
    pad[mask] = np.concatenate(motions)
    x = measure(pad, mask)
    v = violations(x, limits)
    any_bad = (v["detached"].any(-1) | v["stretched"].any(-1) | v["wrong_bend"].any(-1) | v["height_change"]) & mask
    denom = np.maximum(lengths, 1)
    return {"max_shoulder_gap": np.where(mask[..., None], x.gap[..., :2], 0).max((1, 2), initial=0.0),
            "max_hip_gap": np.where(mask[..., None], x.gap[..., 2:], 0).max((1, 2), initial=0.0),
            "joint_limit_ratio": (v["wrong_bend"].any(-1) & mask).sum(1) / denom,
            "anatomy_violation_ratio": any_bad.sum(1) / denom}


def _actor_motions(motion) -> list[np.ndarray]:
    m = np.asarray(motion, dtype=np.float32)
    return [m] if m.ndim == 2 else [m[:, a] for a in range(m.shape[1])]
