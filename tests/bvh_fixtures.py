"""BVH files of a known person in any rig convention, generated for the tests (no shared data needed).

One canonical skeleton (metres, Y up, facing +Z, so its left is +X; head centre 1.64 m, ankles
0.08 m above the floor) walks with planted stance feet: the pelvis moves exactly as much as
the stance ankle moves back, frame by frame, and the stance foot is kept flat. A convention
renames its joints (``None`` drops one: its children hang from the nearest kept ancestor),
may re-parent some (3ds Max Biped hangs the thighs off the spine), and picks its rotation
order, units, up axis and whether every joint carries position channels. The motion is
written as each joint's local rotation in that convention's order (``Rotation.as_euler``),
so the file is a true BVH of the same person, whatever the convention.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

# role: (parent role, rest position in metres, Y up, facing +Z, left = +X)
_BASE = {
    "root": (None, (0, 0, 0)),
    "pelvis": ("root", (0, 0.95, 0)),
    "spine1": ("pelvis", (0, 1.05, 0)), "spine2": ("spine1", (0, 1.17, 0)), "spine3": ("spine2", (0, 1.29, 0)),
    "neck": ("spine3", (0, 1.45, 0)), "head": ("neck", (0, 1.55, 0)), "head_end": ("head", (0, 1.73, 0)),
}
for _s, _x in (("l", 1.0), ("r", -1.0)):
    _BASE.update({
        f"{_s}_clavicle": ("spine3", (0.03 * _x, 1.41, 0)), f"{_s}_upperarm": (f"{_s}_clavicle", (0.18 * _x, 1.41, 0)),
        f"{_s}_forearm": (f"{_s}_upperarm", (0.46 * _x, 1.41, 0)), f"{_s}_hand": (f"{_s}_forearm", (0.71 * _x, 1.41, 0)),
        f"{_s}_hiplink": ("pelvis", (0, 0.95, 0)), f"{_s}_thigh": (f"{_s}_hiplink", (0.09 * _x, 0.90, 0)),
        f"{_s}_calf": (f"{_s}_thigh", (0.09 * _x, 0.48, 0)), f"{_s}_foot": (f"{_s}_calf", (0.09 * _x, 0.08, 0)),
        f"{_s}_toe": (f"{_s}_foot", (0.09 * _x, 0.02, 0.12)),
        # extras some rigs carry: a twist bone halfway down the upper arm, fingers
        f"{_s}_twist": (f"{_s}_upperarm", (0.32 * _x, 1.41, 0)),
        f"{_s}_index1": (f"{_s}_hand", (0.80 * _x, 1.41, 0.02)), f"{_s}_index2": (f"{_s}_index1", (0.84 * _x, 1.41, 0.02)),
        f"{_s}_thumb1": (f"{_s}_hand", (0.74 * _x, 1.40, 0.05)),
    })
_END = {**{f"{s}_{f}": (0.03 * x, 0, 0) for s, x in (("l", 1), ("r", -1)) for f in ("twist", "index2", "thumb1")},
        "head": (0, 0.18, 0), "head_end": (0, 0.02, 0), "l_hand": (0.08, 0, 0), "r_hand": (-0.08, 0, 0),
        "l_toe": (0, 0, 0.05), "r_toe": (0, 0, 0.05), "l_foot": (0, -0.06, 0.12), "r_foot": (0, -0.06, 0.12)}
#: metres per file unit, stated here and not taken from the converter (a wrong factor there must fail)
METRES_PER_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
THIGH, SHIN = 0.42, 0.40
HEAD_ANKLE_M = 1.56  # head centre (1.64) to ankle (0.08)


def _sided(**names: str) -> dict[str, str]:
    """Role -> name for templates with ``{S}`` (side word), ``{s}`` (L/R), ``{lo}`` (l/r)."""
    out = {}
    for role, pattern in names.items():
        if role.startswith("*"):
            for s, word in (("l", "Left"), ("r", "Right")):
                out[f"{s}_{role[1:]}"] = pattern.format(S=word, s=s.upper(), lo=s)
        else:
            out[role] = pattern
    return out


#: convention -> joint names (role -> name) and file habits
CONVENTIONS: dict[str, dict] = {
    "mixamo": dict(names=_sided(pelvis="mixamorig:Hips", spine1="mixamorig:Spine", spine2="mixamorig:Spine1",
                                spine3="mixamorig:Spine2", neck="mixamorig:Neck", head="mixamorig:Head",
                                head_end="mixamorig:HeadTop_End", **{
                                    "*clavicle": "mixamorig:{S}Shoulder", "*upperarm": "mixamorig:{S}Arm",
                                    "*forearm": "mixamorig:{S}ForeArm", "*hand": "mixamorig:{S}Hand",
                                    "*thigh": "mixamorig:{S}UpLeg", "*calf": "mixamorig:{S}Leg",
                                    "*foot": "mixamorig:{S}Foot", "*toe": "mixamorig:{S}ToeBase",
                                    "*index1": "mixamorig:{S}HandIndex1", "*index2": "mixamorig:{S}HandIndex2",
                                    "*thumb1": "mixamorig:{S}HandThumb1"}),
                   order="ZXY", units="cm"),
    "rokoko": dict(names=_sided(pelvis="Hips", spine1="Spine1", spine2="Spine2", spine3="Spine3", neck="Neck",
                                head="Head", **{"*clavicle": "{S}Shoulder", "*upperarm": "{S}Arm",
                                                "*forearm": "{S}ForeArm", "*hand": "{S}Hand", "*thigh": "{S}Thigh",
                                                "*calf": "{S}Shin", "*foot": "{S}Foot", "*toe": "{S}Toe"}),
                   order="ZXY", units="cm", all_positions=True),
    "xsens": dict(names=_sided(pelvis="Pelvis", spine1="L5", spine2="L3", spine3="T8", neck="Neck", head="Head",
                               **{"*clavicle": "{S}Shoulder", "*upperarm": "{S}UpperArm", "*forearm": "{S}ForeArm",
                                  "*hand": "{S}Hand", "*thigh": "{S}UpperLeg", "*calf": "{S}LowerLeg",
                                  "*foot": "{S}Foot", "*toe": "{S}Toe"}),
                  order="ZXY", units="cm"),
    "optitrack": dict(names=_sided(pelvis="Hip", spine1="Ab", spine3="Chest", neck="Neck", head="Head",
                                   **{"*clavicle": "{s}Shoulder", "*upperarm": "{s}UArm", "*forearm": "{s}FArm",
                                      "*hand": "{s}Hand", "*thigh": "{s}Thigh", "*calf": "{s}Shin",
                                      "*foot": "{s}Foot", "*toe": "{s}Toe"}),
                      order="ZXY", units="m"),
    "vicon": dict(names=_sided(pelvis="Subject1:Hips", spine1="Subject1:Spine", spine2="Subject1:Spine1",
                               spine3="Subject1:Spine2", neck="Subject1:Neck", head="Subject1:Head",
                               **{"*clavicle": "Subject1:{S}Shoulder", "*upperarm": "Subject1:{S}Arm",
                                  "*forearm": "Subject1:{S}ForeArm", "*hand": "Subject1:{S}Hand",
                                  "*thigh": "Subject1:{S}UpLeg", "*calf": "Subject1:{S}Leg",
                                  "*foot": "Subject1:{S}Foot", "*toe": "Subject1:{S}ToeBase"}),
                  order="XYZ", units="mm"),
    "unreal": dict(names=_sided(root="root", pelvis="pelvis", spine1="spine_01", spine2="spine_02", spine3="spine_03",
                                neck="neck_01", head="head", **{
                                    "*clavicle": "clavicle_{lo}", "*upperarm": "upperarm_{lo}",
                                    "*forearm": "lowerarm_{lo}", "*hand": "hand_{lo}", "*thigh": "thigh_{lo}",
                                    "*calf": "calf_{lo}", "*foot": "foot_{lo}", "*toe": "ball_{lo}",
                                    "*twist": "upperarm_twist_01_{lo}", "*index1": "index_01_{lo}",
                                    "*index2": "index_02_{lo}", "*thumb1": "thumb_01_{lo}"}),
                   order="XYZ", units="cm"),
    "unity": dict(names=_sided(pelvis="Hips", spine1="Spine", spine2="Chest", spine3="UpperChest", neck="Neck",
                               head="Head", **{"*clavicle": "{S}Shoulder", "*upperarm": "{S}UpperArm",
                                               "*forearm": "{S}LowerArm", "*hand": "{S}Hand",
                                               "*thigh": "{S}UpperLeg", "*calf": "{S}LowerLeg",
                                               "*foot": "{S}Foot", "*toe": "{S}Toes"}),
                  order="YXZ", units="m"),
    "rigify": dict(names=_sided(pelvis="DEF-spine", spine1="DEF-spine.001", spine2="DEF-spine.002",
                                spine3="DEF-spine.003", neck="DEF-spine.004", head="DEF-spine.005", **{
                                    "*clavicle": "DEF-shoulder.{s}", "*upperarm": "DEF-upper_arm.{s}",
                                    "*forearm": "DEF-forearm.{s}", "*hand": "DEF-hand.{s}", "*thigh": "DEF-thigh.{s}",
                                    "*calf": "DEF-shin.{s}", "*foot": "DEF-foot.{s}", "*toe": "DEF-toe.{s}"}),
                   order="XYZ", units="m", up="z"),
    "cmu": dict(names=_sided(pelvis="Hips", spine1="LowerBack", spine2="Spine", spine3="Spine1", neck="Neck",
                             head="Head", **{"*hiplink": "{s}HipJoint", "*clavicle": "{S}Shoulder",
                                             "*upperarm": "{S}Arm", "*forearm": "{S}ForeArm", "*hand": "{S}Hand",
                                             "*thigh": "{S}UpLeg", "*calf": "{S}Leg", "*foot": "{S}Foot",
                                             "*toe": "{S}ToeBase"}),
                order="ZYX", units="cmu"),
    "biped": dict(names=_sided(root="Bip01", pelvis="Bip01 Pelvis", spine1="Bip01 Spine", spine2="Bip01 Spine1",
                               neck="Bip01 Neck", head="Bip01 Head", **{
                                   "*clavicle": "Bip01 {s} Clavicle", "*upperarm": "Bip01 {s} UpperArm",
                                   "*forearm": "Bip01 {s} Forearm", "*hand": "Bip01 {s} Hand",
                                   "*thigh": "Bip01 {s} Thigh", "*calf": "Bip01 {s} Calf", "*foot": "Bip01 {s} Foot",
                                   "*toe": "Bip01 {s} Toe0"}),
                  parents={"l_thigh": "spine1", "r_thigh": "spine1", "l_clavicle": "neck", "r_clavicle": "neck"},
                  order="ZXY", units="in", up="z"),
    "suffix": dict(names=_sided(pelvis="Hips", spine1="Spine", spine3="Chest", neck="Neck", head="Head", **{
                       "*clavicle": "Shoulder_{s}", "*upperarm": "UpperArm_{s}", "*forearm": "LowerArm_{s}",
                       "*hand": "Hand_{s}", "*thigh": "UpperLeg_{s}", "*calf": "LowerLeg_{s}", "*foot": "Foot_{s}",
                       "*toe": "Toe_{s}"}),
                   order="YXZ", units="cm", fps=30),
    "daz": dict(names=_sided(pelvis="hip", spine1="abdomen", spine3="chest", neck="neck", head="head", **{
                    "*clavicle": "{lo}Collar", "*upperarm": "{lo}Shldr", "*forearm": "{lo}ForeArm", "*hand": "{lo}Hand",
                    "*thigh": "{lo}Thigh", "*calf": "{lo}Shin", "*foot": "{lo}Foot"}),
                order="ZYX", units="in"),
    "no_neck": dict(names=_sided(pelvis="Hips", spine1="Spine", head="Head", **{
                        "*clavicle": "{S}Shoulder", "*upperarm": "{S}Arm", "*forearm": "{S}ForeArm",
                        "*hand": "{S}Hand", "*thigh": "{S}UpLeg", "*calf": "{S}Leg", "*foot": "{S}Foot",
                        "*toe": "{S}ToeBase"}),
                    parents={"l_clavicle": "spine1", "r_clavicle": "spine1", "head": "spine1"},
                    order="ZXY", units="cm"),
    "anonymous": dict(names={}, order="ZXY", units="m"),   # joint1, joint2, ... (with fingers, twist bones): topology only
}
_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])   # Y-up, +Z forward -> Z-up, -Y forward


def _roles(conv: dict) -> tuple[list[str], dict[str, str | None]]:
    names = conv["names"]
    roles = [r for r in _BASE if r in names] if names else \
        [r for r in _BASE if r not in ("root", "head_end") and not r.endswith("hiplink")]
    parents: dict[str, str | None] = {}
    for r in roles:
        p = conv.get("parents", {}).get(r, _BASE[r][0])
        while p is not None and p not in roles:
            p = _BASE[p][0]
        parents[r] = p
    ordered: list[str] = []  # parents before children, depth first (a BVH writes the tree in that order)

    def visit(r: str) -> None:
        ordered.append(r)
        for c in roles:
            if parents[c] == r:
                visit(c)

    for r in roles:
        if parents[r] is None:
            visit(r)
    return ordered, parents


def gait(T: int, fps: float, speed: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Joint angles (radians, per frame) and pelvis (y, z) of a walk at ``speed`` x 0.8 m/s (0: standing).

    The feet are placed first: a stance foot stays where it landed; a swing foot moves on a smooth
    arc (zero speed at lift-off and landing, 8 cm up). The pelvis travels at a constant speed and bobs
    so the stance leg never straightens fully, and each leg's hip and knee come from two-bone IK,
    so the motion is smooth (no kinks for the jitter metric to see) and the stance ankle is exact.
    """
    P, V, half = 1.0, 0.8 * speed, 0.2 * speed             # cycle (s), pelvis speed, half stride
    t = np.arange(T) / fps
    d_mid = 0.819 - 0.019 * speed                          # hip-ankle distance at mid-stance
    low, high = np.sqrt(d_mid ** 2 - half ** 2), d_mid     # hip height above the ankle: heel strike, mid-stance
    hip_y = 0.08 + 0.5 * (low + high) - 0.5 * (high - low) * np.cos(4 * np.pi * t / P)
    out: dict[str, np.ndarray] = {}
    for s, offset in (("l", 0.0), ("r", 0.5)):
        u = (t / P + offset) % 1.0
        sw = np.clip((u - 0.5) / 0.5, 0, 1)                                # swing progress (0 in stance)
        # ankle z relative to the hip: stance goes back at the pelvis speed (the foot stands still);
        # swing covers the stride (4 half) with a smooth start and stop, less what the pelvis did
        rel_z = np.where(u < 0.5, half - V * u * P, -half + 2 * half * sw - 4 * half * np.sin(2 * np.pi * sw) / (2 * np.pi))
        ankle_y = 0.08 + 0.08 * speed * (1 - np.cos(2 * np.pi * sw)) / 2
        dy, dz = ankle_y - hip_y, rel_z
        d = np.minimum(np.hypot(dy, dz), 0.999 * (THIGH + SHIN))
        knee = np.pi - np.arccos(np.clip((THIGH ** 2 + SHIN ** 2 - d ** 2) / (2 * THIGH * SHIN), -1, 1))
        hip = np.arctan2(dz, -dy) + np.arccos(np.clip((THIGH ** 2 + d ** 2 - SHIN ** 2) / (2 * THIGH * d), -1, 1))
        out[f"{s}_hip"], out[f"{s}_knee"] = hip, knee
        swing = np.cos(2 * np.pi * u) * speed                # +1 when this leg is ahead: its arm swings back
        out[f"{s}_arm"] = np.radians(20) * swing
        out[f"{s}_elbow"] = np.radians(20) - np.radians(10) * swing
    return out, np.stack([hip_y + 0.05, V * t], axis=1)      # the pelvis joint sits 5 cm above the hips


def make_bvh(convention: str, *, frames: int = 60, walk: bool = True, yaw_deg: float = 0.0, order: str | None = None,
             units: str | None = None, fps: float | None = None, size: float = 1.0, right_first: bool = False) -> str:
    """The text of a BVH file of our person walking (or standing) in ``convention``'s rig.

    ``size`` scales the person (1.0: head centre 1.64 m above the floor); ``right_first`` writes
    each right limb before its left twin (as many exporters do)."""
    conv = CONVENTIONS[convention]
    order = order or conv["order"]
    fps = fps or conv.get("fps", 30)
    per_unit = METRES_PER_UNIT[units or conv["units"]]
    roles, parents = _roles(conv)
    name = conv["names"].get if conv["names"] else (lambda r: f"joint{roles.index(r) + 1}")
    basis = _Z_UP if conv.get("up") == "z" else np.eye(3)
    B = Rotation.from_matrix(basis)
    rest = {r: np.array(_BASE[r][1], float) * size for r in roles}
    a, path = gait(frames, fps, 1.0 if walk else 0.0)
    path = path * size
    yaw = Rotation.from_euler("y", np.full((frames, 1), yaw_deg), degrees=True)
    pelvis = yaw.apply(np.stack([np.zeros(frames), path[:, 0], path[:, 1]], axis=1))
    ident = Rotation.identity(frames)
    local: dict[str, Rotation] = {r: ident for r in roles}
    for s, sign in (("l", -1.0), ("r", 1.0)):
        local[f"{s}_thigh"] = Rotation.from_euler("x", -a[f"{s}_hip"][:, None])
        local[f"{s}_calf"] = Rotation.from_euler("x", a[f"{s}_knee"][:, None])
        if f"{s}_toe" in roles or f"{s}_foot" in roles:  # the foot stays flat
            local[f"{s}_foot"] = Rotation.from_euler("x", (a[f"{s}_hip"] - a[f"{s}_knee"])[:, None])
        local[f"{s}_upperarm"] = Rotation.from_euler("x", a[f"{s}_arm"][:, None]) * Rotation.from_euler("z", sign * 80, degrees=True)
        local[f"{s}_forearm"] = Rotation.from_euler("y", sign * a[f"{s}_elbow"][:, None])  # the forearm bends forward
    top = roles[0]
    local[top] = yaw * local[top] if top != "pelvis" else yaw
    lines = ["HIERARCHY"]
    chan: list[np.ndarray] = []
    pos_names = "Xposition Yposition Zposition"
    rot_names = " ".join(f"{c}rotation" for c in order)

    def offset(r: str) -> np.ndarray:
        rel = rest[r] - rest[parents[r]] if parents[r] else np.zeros(3)
        return basis @ rel / per_unit

    def rot_values(r: str) -> np.ndarray:
        return (B * local[r] * B.inv()).as_euler(order.upper(), degrees=True)

    def write(r: str, d: int) -> None:
        ind = "  " * d
        kids = [c for c in roles if parents[c] == r]
        if right_first:
            kids.sort(key=lambda c: not c.startswith("r_"))
        lines.append(f"{ind}{'ROOT' if d == 0 else 'JOINT'} {name(r)}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}  OFFSET " + " ".join(f"{v:.6f}" for v in offset(r)))
        if d == 0:
            trans = pelvis if r == "pelvis" else pelvis - (rest["pelvis"] - rest[r])  # a floor root carries the pelvis
            chan.append((trans @ basis.T) / per_unit)
            lines.append(f"{ind}  CHANNELS 6 {pos_names} {rot_names}")
        elif conv.get("all_positions"):
            chan.append(np.tile(offset(r), (frames, 1)))
            lines.append(f"{ind}  CHANNELS 6 {pos_names} {rot_names}")
        else:
            lines.append(f"{ind}  CHANNELS 3 {rot_names}")
        chan.append(rot_values(r))
        for c in kids:
            write(c, d + 1)
        if not kids:
            end = basis @ (np.array(_END.get(r, (0, 0.05, 0))) * size) / per_unit
            lines.extend([f"{ind}  End Site", f"{ind}  {{", f"{ind}    OFFSET " + " ".join(f"{v:.6f}" for v in end),
                      f"{ind}  }}"])
        lines.append(f"{ind}}}")

    write(top, 0)
    motion = np.concatenate(chan, axis=1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.5f}" for v in row) for row in motion]
    return "\n".join(lines) + "\n"


def write_bvh(path: str | Path, convention: str = "mixamo", **kw) -> Path:
    """``make_bvh`` written to ``path``."""
    p = Path(path)
    p.write_text(make_bvh(convention, **kw))
    return p
