"""NTU RGB+D 60/120 ``.skeleton`` files (Kinect v2, 25 joints, metres, 30 fps) -> our joints, per body.

The text layout: the frame count; per frame the body count; per body one line of 10 values
(body id, clipped edges, hand states, restricted, lean x/y, tracking state), the joint
count (25), then one line per joint of 12 values (x y z, depth x/y, colour x/y, orientation
w x y z, tracking state). Coordinates are Kinect camera space: metres, y up, z the depth.
Bodies are followed by id across frames; a body the sensor saw for less than a third of the
clip is noise (a chair, a coat) and dropped, at most ``MAX_ACTORS`` are kept (the two most
seen), and the frames a kept body misses are filled in time. Two bodies make a multi-actor
clip. The action is the ``A###`` code of the name (``S001C001P001R001A043``) in NTU's list.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..limits import Limit, read_bounded
from ..schema import JOINT_NAMES
from .joints3d import Track3D
from .labels import Labels, map_action
from .gaps import fill_gaps

NTU_FPS = 30.0
MAX_ACTORS = 2
MIN_SEEN = 1 / 3
SKELETON_BYTES = Limit("STICKGEN_MAX_SKELETON_BYTES", 64 << 20, "bytes of an NTU .skeleton file")
#: Our joint -> Kinect v2 joint (0 spine base, 1 spine mid, 2 neck, 3 head, 4-7 left arm to hand,
#: 8-11 right arm, 12-15 left leg to foot, 16-19 right leg, 20 spine at the shoulders).
KINECT25 = {"pelvis_center": 0, "chest": 1, "neck": 2, "head_center": 3,
            "l_shoulder": 4, "l_elbow": 5, "l_wrist": 6, "r_shoulder": 8, "r_elbow": 9, "r_wrist": 10,
            "l_hip": 12, "l_knee": 13, "l_ankle": 14, "r_hip": 16, "r_knee": 17, "r_ankle": 18}
#: NTU RGB+D 120's action classes, A001..A120 (A001-A060 are NTU RGB+D 60's).
NTU_ACTIONS = (
    "drink water", "eat meal/snack", "brushing teeth", "brushing hair", "drop", "pickup", "throw",
    "sitting down", "standing up (from sitting position)", "clapping", "reading", "writing", "tear up paper",
    "wear jacket", "take off jacket", "wear a shoe", "take off a shoe", "wear on glasses", "take off glasses",
    "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "reach into pocket", "hopping (one foot jumping)", "jump up", "make a phone call/answer phone",
    "playing with phone/tablet", "typing on a keyboard", "pointing to something with finger",
    "taking a selfie", "check time (from watch)", "rub two hands together", "nod head/bow", "shake head",
    "wipe face", "salute", "put the palms together", "cross hands in front (say stop)", "sneeze/cough",
    "staggering", "falling", "touch head (headache)", "touch chest (stomachache/heart pain)",
    "touch back (backache)", "touch neck (neckache)", "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm", "punching/slapping other person", "kicking other person",
    "pushing other person", "pat on back of other person", "point finger at the other person",
    "hugging other person", "giving something to other person", "touch other person's pocket", "handshaking",
    "walking towards each other", "walking apart from each other",
    "put on headphone", "take off headphone", "shoot at the basket", "bounce ball", "tennis bat swing",
    "juggling table tennis balls", "hush (quite)", "flick hair", "thumb up", "thumb down", "make ok sign",
    "make victory sign", "staple book", "counting money", "cutting nails", "cutting paper (using scissors)",
    "snapping fingers", "open bottle", "sniff (smell)", "squat down", "toss a coin", "fold paper",
    "ball up paper", "play magic cube", "apply cream on face", "apply cream on hand back", "put on bag",
    "take off bag", "put something into a bag", "take something out of a bag", "open a box",
    "move heavy objects", "shake fist", "throw up cap/hat", "hands up (both hands)", "cross arms",
    "arm circles", "arm swings", "running on the spot", "butt kicks (kick backward)", "cross toe touch",
    "side kick", "yawn", "stretch oneself", "blow nose", "hit other person with something",
    "wield knife towards other person", "knock over other person (hit with body)", "grab other person's stuff",
    "shoot at other person with a gun", "step on foot", "high-five", "cheers and drink",
    "carry something with other person", "take a photo of other person", "follow other person",
    "whisper in other person's ear", "exchange things with other person", "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)
#: Codes whose words alone would map wrongly (a gun is not a basketball shot; stepping on a foot is no walk).
ACTION_OVERRIDES = {28: "unknown", 81: "unknown", 110: "fight", 111: "fight", 113: "drinking", 116: "walk"}
#: Codes of the two-person ("mutual") classes.
MUTUAL = frozenset(range(50, 61)) | frozenset(range(106, 121))
_CODE = re.compile(r"S(?P<setup>\d{3})C(?P<camera>\d{3})P(?P<performer>\d{3})R(?P<replication>\d{3})A(?P<action_code>\d{3})")


def ntu_action(code: int) -> str:
    """Our action for NTU class ``code`` (1-120)."""
    return ACTION_OVERRIDES.get(code) or map_action(NTU_ACTIONS[code - 1])


def joint_block(lines: list[str], start: int, p: Path) -> np.ndarray:
    """``[25, 3]`` x y z of the 25 joint lines from ``start`` (one numpy parse of the block; the
    line at fault is looked for only when it fails)."""
    block = lines[start: start + 25]
    try:
        vals = np.array(" ".join(block).split(), dtype=np.float64)
        if len(block) == 25 and vals.size == 25 * 12:
            return vals.reshape(25, 12)[:, :3]
    except ValueError:
        pass
    for k, line in enumerate(block + [""] * (25 - len(block))):
        where = f"{p}: line {start + k + 1}"
        if start + k >= len(lines):
            raise DatasetError(f"{where}: file ends where a joint line was expected", p)
        vals = line.split()
        if len(vals) != 12:
            raise DatasetError(f"{where}: expected 12 values for a joint line, got {len(vals)}", p)
        try:
            [float(v) for v in vals]
        except ValueError as exc:
            raise DatasetError(f"{where}: expected numbers on a joint line ({exc})", p) from None
    raise DatasetError(f"{p}: line {start + 1}: malformed joint block", p)  # unreachable: a line above failed


def parse_skeleton(path: str | Path) -> tuple[int, dict[str, dict[int, np.ndarray]]]:
    """(frame count, body id -> frame -> ``[25, 3]`` joints); DatasetError naming the file and line."""
    p = Path(path)
    lines = read_bounded(p, SKELETON_BYTES, "an NTU .skeleton file", DatasetError).decode("ascii", "replace").rstrip().split("\n")
    pos = 0

    def row(n: int | None, what: str) -> list[str]:
        nonlocal pos
        if pos >= len(lines):
            raise DatasetError(f"{p}: line {pos + 1}: file ends where {what} was expected", p)
        vals = lines[pos].split()
        pos += 1
        if n is not None and len(vals) < n:
            raise DatasetError(f"{p}: line {pos}: expected {n} values for {what}, got {len(vals)}", p)
        return vals

    def count(what: str, hi: int) -> int:
        vals = row(1, what)
        try:
            k = int(vals[0])
        except ValueError:
            raise DatasetError(f"{p}: line {pos}: expected {what} (a whole number), got {vals[0][:20]!r}", p) from None
        if not 0 <= k <= hi:
            raise DatasetError(f"{p}: line {pos}: {what} {k} is outside 0..{hi}", p)
        return k

    frames = count("the frame count", 100_000)
    bodies: dict[str, dict[int, np.ndarray]] = {}
    for f in range(frames):
        for _ in range(count(f"frame {f}'s body count", 16)):
            body_id = row(10, f"frame {f}'s body header")[0]
            n = count(f"frame {f}'s joint count", 25)
            if n != 25:
                raise DatasetError(f"{p}: line {pos}: expected 25 Kinect joints, got {n}", p)
            bodies.setdefault(body_id, {})[f] = joint_block(lines, pos, p)
            pos += 25
    return frames, bodies


def read_ntu(path: str | Path) -> Track3D:
    """One ``.skeleton`` file as ``[T, A, 16, 3]`` joints of its ``A`` people, ``[T, 16, 3]`` for one (metres, y up)."""
    p = Path(path)
    frames, bodies = parse_skeleton(p)
    if frames < 2 or not bodies:
        raise DatasetError(f"{p}: expected at least 2 frames with a tracked body, got {frames} frames, "
                           f"{len(bodies)} bodies", p)

    def motion(track: dict[int, np.ndarray]) -> float:
        return float(np.var(np.stack(list(track.values())), axis=0).sum())

    # most-seen bodies first; among equals the one that moves more (a still 'body' is furniture)
    ranked = sorted(bodies.items(), key=lambda kv: (-len(kv[1]), -motion(kv[1])))
    kept = [kv for k, kv in enumerate(ranked) if k == 0 or len(kv[1]) >= MIN_SEEN * frames][:MAX_ACTORS]
    idx = [KINECT25[n] for n in JOINT_NAMES]
    actors = []
    for _, track in kept:
        J = np.zeros((frames, 16, 3))
        seen = np.zeros(frames, dtype=bool)
        for f, xyz in track.items():
            J[f], seen[f] = xyz[idx], True
        seen &= np.abs(J).sum(axis=(1, 2)) > 0  # Kinect writes zeros for a joint set it lost
        actors.append(fill_gaps(J, seen, str(p), max_missing=1 - MIN_SEEN))
    meta = {"format": "ntu", "bodies_found": len(bodies), "bodies_kept": [b for b, _ in kept]}
    joints = np.stack(actors, axis=1) if len(actors) > 1 else actors[0]  # one person: a single-actor clip
    return Track3D(joints, NTU_FPS, str(p), meta)


def ntu_labels(path: str | Path) -> Labels:
    """The action class of the ``A###`` code, and the setup/camera/performer/replication fields."""
    m = _CODE.search(Path(path).stem)
    if not m:
        return Labels()
    code = int(m.group("action_code"))
    if not 1 <= code <= len(NTU_ACTIONS):
        raise DatasetError(f"{path}: action code A{code:03d} is not an NTU RGB+D class (A001-A120)", path)
    name = NTU_ACTIONS[code - 1]
    fields = dict(m.groupdict(), ntu_class=name)
    who = "two people" if code in MUTUAL else "a person"
    return Labels(label=name, phrase=name, fields=fields, description=f"{who}: {name}",
                  fixed_action=ACTION_OVERRIDES.get(code))
