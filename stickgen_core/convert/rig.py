"""Which BVH joints are our 16: names first (side marker wherever it stands, then body-part
synonyms), the skeleton's topology where names do not settle it.

Names. A joint's name loses its namespace (``mixamorig:``, ``Subject1:``, ``a|b``) and tool
prefixes (``Bip01``, Rigify's ``DEF-``); its side marker is taken from wherever it stands
(``Left…``, ``L_…``, ``l…`` before a capital, ``LThigh``, ``…_L``, ``….L``, ``….L.001``,
``…Left``, ``…_l``, ``Bip01 L …``, ``lhand``); what is left, letters only and lower-case, is
the body part, looked up in ``PARTS`` (best first). When two joints give the same part the one
nearer the root wins (``Neck`` before ``Neck1``, ``upper_arm.L`` before ``upper_arm.L.001``).

Topology, for what names leave open: the pelvis is where the legs meet (the lowest common
ancestor of the hips, or the first joint with three branches); its biggest branch is the
spine, the other two are legs; up the spine, the first joint with three branches holds the
arms, and the branch that goes on upward is the neck and head. In a limb chain the shoulder,
elbow and wrist (hip, knee, ankle) are the three joints around the two longest consecutive
bones. Left and right come from the rest pose: left is ``up x forward``, forward being where
the toes point (without toes, the BVH habit of a figure facing +Z with Y up, i.e. left = +X).

Derived joints. The chest is the joint named ``chest`` or else the spine joint nearest 55 %
of the way from pelvis to neck (our skeleton's proportion), interpolated when the spine has
no joint there. A rig without a neck (``Spine -> Head``) gets one where the line from the
head's parent to the head passes the shoulders' midpoint (its projection, kept within the
line), frame by frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from ..errors import DatasetError
from ..schema import JOINT_NAMES

#: body part (letters of the name without side or namespace) per joint of ours, best first
PARTS: dict[str, tuple[str, ...]] = {
    "pelvis_center": ("hips", "pelvis", "hip"),
    "chest": ("chest",),
    "neck": ("neck",),
    "head_center": ("head",),
    "shoulder": ("upperarm", "uparm", "uarm", "arm", "shldr", "shoulder", "collar", "clavicle"),
    "elbow": ("forearm", "lowerarm", "lowarm", "farm", "elbow"),
    "wrist": ("wrist", "hand"),
    "hip": ("upleg", "upperleg", "thigh", "hip"),
    "knee": ("lowerleg", "lowleg", "shin", "calf", "knee", "leg"),
    "ankle": ("ankle", "foot"),
}
CHEST_SHARE = 0.30 / 0.55   # pelvis->chest over pelvis->neck in our synthetic skeleton
_LIMBS = {"arm": ("shoulder", "elbow", "wrist"), "leg": ("hip", "knee", "ankle")}
_KNOWN = {p for parts in PARTS.values() for p in parts}
_PREFIX = re.compile(r"^(?:bip\d*|def|org|mixamorig\d*)(?:[\s_\-.]+|(?=[A-Z]))", re.I)
_END = re.compile(r"end|top|nub|tip|site", re.I)
# side markers, tried in order on the name without namespace or prefix: (pattern, group)
_SIDES = (
    re.compile(r"^(?P<s>left|right)", re.I),                              # LeftArm, left_arm
    re.compile(r"(?<=[a-z0-9])(?P<s>Left|Right)$"),                       # ArmLeft
    re.compile(r"[\s_\-.](?P<s>left|right|l|r)(?=$|[\s_\-.]\d+$)", re.I),  # UpperArm_L, hand_l, upper_arm.L.001
    re.compile(r"^(?P<s>[lr])[\s_\-.]", re.I),                            # L_Arm, l arm
    re.compile(r"^(?P<s>[lrLR])(?=[A-Z])"),                               # lShldr, LThigh, LUArm, RHipJoint
)


class JointLike(Protocol):
    name: str
    parent: int
    offset: np.ndarray
    end_site: np.ndarray | None


def split_side(name: str) -> tuple[str | None, str]:
    """(``"l"``, ``"r"`` or None, body part in lower-case letters) of a joint name."""
    n = re.split(r"[:|]", name.strip())[-1]
    n = _PREFIX.sub("", n.strip())
    side, rest = None, n
    for pat in _SIDES:
        m = pat.search(n)
        if m:
            side = m.group("s")[0].lower()
            rest = n[: m.start("s")] + n[m.end("s"):]
            break
    part = re.sub(r"[^a-z]", "", rest.lower())
    if side is None and len(part) > 1 and part[0] in "lr" and part[1:] in _KNOWN:  # lhand, RFOOT
        side, part = part[0], part[1:]
    return side, part


@dataclass
class RigMap:
    """Our joint -> BVH joint index, with how each was found; ``place`` puts all 16 in space."""

    index: dict[str, int]
    how: dict[str, str] = field(default_factory=dict)
    chest_between: tuple[int, int, float] | None = None   # (pelvis, neck, share) when interpolated
    neck_from: tuple[int, int, int, int] | None = None    # (head's parent, head, l_shoulder, r_shoulder)
    head_tip: int | None = None                          # child joint that ends the head, when no End Site

    def joints_used(self) -> set[int]:
        """The BVH joints ``place`` reads."""
        extra = [*(self.neck_from or ()), *(self.chest_between[:1] if self.chest_between else ()),
                 *([self.head_tip] if self.head_tip is not None else [])]
        return set(self.index.values()) | set(extra)

    def place(self, pos: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """``[T, 16, 3]`` of joint positions ``[T, J, 3]`` and end sites ``[T, J, 3]`` (nan where none)."""
        out = np.zeros((len(pos), len(JOINT_NAMES), 3))
        for k, n in enumerate(JOINT_NAMES):
            if n in self.index:
                out[:, k] = pos[:, self.index[n]]
        if self.neck_from is not None:
            a, b, ls, rs = (pos[:, i] for i in self.neck_from)
            d = b - a
            t = np.clip(np.einsum("ti,ti->t", 0.5 * (ls + rs) - a, d) / np.maximum(np.einsum("ti,ti->t", d, d), 1e-12), 0, 1)
            out[:, JOINT_NAMES.index("neck")] = a + t[:, None] * d
        if self.chest_between is not None:
            p, nk, share = self.chest_between
            out[:, JOINT_NAMES.index("chest")] = pos[:, p] + share * (out[:, JOINT_NAMES.index("neck")] - pos[:, p])
        head, h = self.index["head_center"], JOINT_NAMES.index("head_center")
        tip = ends[:, head] if not np.isnan(ends[0, head, 0]) else (pos[:, self.head_tip] if self.head_tip is not None else None)
        if tip is not None:  # the head joint sits at the skull base: its centre is halfway to the tip
            out[:, h] = 0.5 * (pos[:, head] + tip)
        return out


class _Tree:
    def __init__(self, joints: Sequence[JointLike]):
        self.joints = joints
        self.children: list[list[int]] = [[] for _ in joints]
        self.depth = np.zeros(len(joints), int)
        self.rest = np.zeros((len(joints), 3))
        for k, j in enumerate(joints):  # parents come before children in a BVH hierarchy
            if j.parent >= 0:
                self.children[j.parent].append(k)
                self.depth[k] = self.depth[j.parent] + 1
                self.rest[k] = self.rest[j.parent] + j.offset
        self.size = np.ones(len(joints), int)
        for k in range(len(joints) - 1, 0, -1):
            if joints[k].parent >= 0:
                self.size[joints[k].parent] += self.size[k]

    def ancestors(self, k: int) -> list[int]:
        out = [k]
        while self.joints[out[-1]].parent >= 0:
            out.append(self.joints[out[-1]].parent)
        return out

    def lca(self, a: int, b: int) -> int:
        up = set(self.ancestors(a))
        return next(k for k in self.ancestors(b) if k in up)

    def chain(self, k: int) -> list[int]:
        """``k`` and its descendants along the biggest child at each step."""
        out = [k]
        while self.children[out[-1]]:
            out.append(max(self.children[out[-1]], key=lambda c: self.size[c]))
        return out

    def tip(self, k: int) -> np.ndarray | None:
        j = self.joints[k]
        if j.end_site is not None:
            return self.rest[k] + j.end_site
        return self.rest[self.children[k][0]] if self.children[k] else None


def _by_names(tree: _Tree) -> dict[str, int]:
    parsed = {k: split_side(j.name) for k, j in enumerate(tree.joints)}
    found: dict[str, int] = {}
    for ours in JOINT_NAMES:
        side, _, kind = ours.partition("_")
        side, kind = (side, kind) if kind and side in "lr" and kind in PARTS else (None, ours)
        best = None
        for k, (s, part) in parsed.items():
            if s == side and part in PARTS[kind]:
                key = (PARTS[kind].index(part), tree.depth[k], k)
                best = key if best is None or key < best else best
        if best is not None:
            found[ours] = best[2]
    for s in "lr":  # a limb whose named joints do not form one chain is left to the topology
        for parts in _LIMBS.values():
            names = [f"{s}_{p}" for p in parts if f"{s}_{p}" in found]
            idx = [found[n] for n in names]
            if any(a not in tree.ancestors(b) for a, b in zip(idx, idx[1:])):
                for n in names:
                    found.pop(n)
    return found


def _limb(tree: _Tree, start: int) -> list[int] | None:
    """The three joints around the two longest consecutive bones of the chain from ``start``."""
    ch = tree.chain(start)
    if len(ch) < 3:
        return None
    bones = np.linalg.norm(np.diff(tree.rest[ch], axis=0), axis=1)
    i = int(np.argmax(bones[:-1] + bones[1:]))
    return ch[i: i + 3]


def _topology(tree: _Tree, named: dict[str, int]) -> dict[str, int]:
    """Joints placed by the skeleton's shape, building on the ones ``named``."""
    out: dict[str, int] = {}
    kids = tree.children
    if "l_hip" in named and "r_hip" in named:
        pelvis = named.get("pelvis_center", tree.lca(named["l_hip"], named["r_hip"]))
    else:
        pelvis = named.get("pelvis_center")
        if pelvis is None:
            pelvis = next((k for k in range(len(tree.joints)) if sum(tree.size[c] >= 3 for c in kids[k]) >= 3), None)
    if pelvis is None:
        return out
    out["pelvis_center"] = pelvis
    branches = sorted(kids[pelvis], key=lambda c: -tree.size[c])
    if len(branches) < 1:
        return out
    spine, legs = branches[0], [c for c in branches[1:3] if tree.size[c] >= 3]
    if "l_shoulder" in named and "r_shoulder" in named:
        fork = tree.lca(named["l_shoulder"], named["r_shoulder"])
    else:
        fork = next((k for k in tree.chain(spine) if len(kids[k]) >= 3), None)
    if fork is None:
        return out
    up = tree.rest[fork] - tree.rest[pelvis]
    up = up / max(np.linalg.norm(up), 1e-9)
    rise = {c: float((tree.rest[tree.chain(c)].mean(0) - tree.rest[fork]) @ up) for c in kids[fork]}
    center = max(kids[fork], key=lambda c: rise[c])
    arms = sorted((c for c in kids[fork] if c != center), key=lambda c: -tree.size[c])[:2]
    cchain = [k for k in tree.chain(center) if not (_END.search(tree.joints[k].name) and not kids[k])]
    out["head_center"] = cchain[-1] if cchain else center
    if len(cchain) >= 2:
        out["neck"] = cchain[0]
    # left = up x forward; forward from the toes when the legs have them
    toes = []
    for leg in legs:
        three = _limb(tree, leg)
        if three:
            tip = tree.tip(three[2])
            if tip is not None:
                toes.append(tip - tree.rest[three[2]])
    fwd = np.mean(toes, axis=0) - (np.mean(toes, axis=0) @ up) * up if toes else np.zeros(3)
    left = np.cross(up, fwd / np.linalg.norm(fwd)) if np.linalg.norm(fwd) > 1e-6 else np.array([1.0, 0, 0])
    for kind, roots, base in (("arm", arms, fork), ("leg", legs, pelvis)):
        if len(roots) != 2:
            continue
        limbs = [_limb(tree, c) for c in roots]
        if None in limbs:
            continue
        score = [float((tree.rest[lb[0]] - tree.rest[base]) @ left) for lb in limbs]
        order = (0, 1) if score[0] >= score[1] else (1, 0)
        for side, i in zip("lr", order):
            for part, k in zip(_LIMBS[kind], limbs[i]):
                out[f"{side}_{part}"] = k
    return out


def match_rig(joints: Sequence[JointLike], origin: str = "") -> RigMap:
    """Our 16 joints on a BVH hierarchy; DatasetError naming what was found and what is missing."""
    tree = _Tree(joints)
    named = _by_names(tree)
    rig = RigMap(dict(named), {n: "name" for n in named})
    if len(named) < len(JOINT_NAMES):
        topo = _topology(tree, named)
        for n, k in topo.items():
            if n not in rig.index:
                rig.index[n], rig.how[n] = k, "topology"
    idx = rig.index
    if "head_center" in idx:
        h = idx["head_center"]
        if joints[h].end_site is None and tree.children[h]:
            rig.head_tip = tree.children[h][0]
    if "neck" not in idx and {"head_center", "l_shoulder", "r_shoulder"} <= idx.keys() and joints[idx["head_center"]].parent >= 0:
        rig.neck_from = (joints[idx["head_center"]].parent, idx["head_center"], idx["l_shoulder"], idx["r_shoulder"])
        rig.how["neck"] = "from the head's parent and the shoulders"
    if "chest" not in idx and "pelvis_center" in idx and ("neck" in idx or rig.neck_from):
        _place_chest(tree, rig)
    missing = [n for n in JOINT_NAMES if n not in idx and n not in rig.how]
    if missing:
        found = ", ".join(f"{n}={joints[k].name}" for n, k in idx.items()) or "nothing"
        hints = "; ".join(f"{n}: a joint named like {_hint(n)}" for n in missing)
        raise DatasetError(f"{origin}: cannot place joint(s) {', '.join(missing)} of the stick figure on this rig "
                           f"(placed: {found}; its joints: {', '.join(j.name for j in joints)}); "
                           f"expected {hints}", origin)
    return rig


def _place_chest(tree: _Tree, rig: RigMap) -> None:
    pelvis = rig.index["pelvis_center"]
    top = rig.index["neck"] if "neck" in rig.index else rig.index["head_center"]
    path = [k for k in tree.ancestors(top)[1:] if k != pelvis and pelvis in tree.ancestors(k)]
    a, d = tree.rest[pelvis], tree.rest[top] - tree.rest[pelvis]
    share = {k: float((tree.rest[k] - a) @ d / max(d @ d, 1e-12)) for k in path}
    near = [k for k in path if abs(share[k] - CHEST_SHARE) <= 0.2]
    if near:
        rig.index["chest"] = min(near, key=lambda k: abs(share[k] - CHEST_SHARE))
        rig.how["chest"] = "spine joint nearest 55 % of pelvis to neck"
    else:
        rig.chest_between = (pelvis, top, CHEST_SHARE)
        rig.how["chest"] = "55 % of the way from pelvis to neck"


def _hint(ours: str) -> str:
    side, _, kind = ours.partition("_")
    if kind in PARTS and side in "lr":
        word = "Left" if side == "l" else "Right"
        return f"{word}{PARTS[kind][0].title()} / {PARTS[kind][0]}_{side.upper()}"
    return PARTS[ours][0].title()
