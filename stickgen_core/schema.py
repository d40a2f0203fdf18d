"""The canonical sample contract: v3 skeleton, action vocabulary, validation.

A sample is a dict with ``description`` (str), ``motion`` float32 ``[T, 48]`` or
``[T, A, 48]`` (12 segments x (x1, y1, x2, y2), metres, y up, ground at y = 0),
``actions`` int64 ``[T]`` or ``[T, A]``, ``physics`` float32 ``[T, 6]``
(vx, vy, ax, ay, mx, my of the pelvis), ``camera`` float32 ``[T, 3]`` (x, y, zoom)
and ``source`` (str). ``validate_sample`` reports every broken rule at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

FPS_DEFAULT = 25
MOTION_DIM = 48
NUM_SEGMENTS = 12
PHYSICS_DIM = 6
CAMERA_DIM = 3
PHYSICS_FIELDS = ("vx", "vy", "ax", "ay", "mx", "my")
CAMERA_FIELDS = ("x", "y", "zoom")

#: v3 segment order; each segment runs from its first joint to its second.
SEGMENTS: tuple[tuple[str, str, str], ...] = (
    ("head", "neck", "head_center"),
    ("upper_torso", "neck", "chest"),
    ("lower_torso", "chest", "pelvis_center"),
    ("l_upper_arm", "l_shoulder", "l_elbow"),
    ("l_forearm", "l_elbow", "l_wrist"),
    ("r_upper_arm", "r_shoulder", "r_elbow"),
    ("r_forearm", "r_elbow", "r_wrist"),
    ("l_thigh", "l_hip", "l_knee"),
    ("l_shin", "l_knee", "l_ankle"),
    ("r_thigh", "r_hip", "r_knee"),
    ("r_shin", "r_knee", "r_ankle"),
    ("pelvis_width", "l_hip", "r_hip"),
)
SEGMENT_NAMES: tuple[str, ...] = tuple(s[0] for s in SEGMENTS)

#: Canonical joints, in the order ``skeleton`` uses for ``[..., 16, 2]`` arrays.
JOINT_NAMES: tuple[str, ...] = (
    "pelvis_center", "chest", "neck", "head_center",
    "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
    "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle",
)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

#: Joints that two segment endpoints share, as (name, (seg, end), (seg, end));
#: end 0 is (x1, y1), end 1 is (x2, y2). The pelvis centre is checked separately
#: against the midpoint of pelvis_width.
SHARED_JOINTS: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("neck", (0, 0), (1, 0)),
    ("chest", (1, 1), (2, 0)),
    ("l_elbow", (3, 1), (4, 0)),
    ("r_elbow", (5, 1), (6, 0)),
    ("l_hip", (7, 0), (11, 0)),
    ("l_knee", (7, 1), (8, 0)),
    ("r_hip", (9, 0), (11, 1)),
    ("r_knee", (9, 1), (10, 0)),
)
CONNECTIVITY_TOLERANCE = 1e-3  # metres; float32 round trips stay far below this

#: The reference Stick-Gen's ``ActionType`` order (gestura-ai/stick-gen, src/data_gen/schema.py):
#: its files and models use these indices unchanged, so they come first and never move.
REFERENCE_ACTIONS: tuple[str, ...] = (
    "idle", "walk", "run", "sprint", "jump",
    "wave", "talk", "shout", "whisper", "sing", "point", "clap",
    "batting", "pitching", "catching", "running_bases", "fielding", "throwing",
    "kicking", "dribbling", "shooting",
    "fight", "punch", "kick", "dodge",
    "sit", "stand", "kneel", "lie_down", "eating", "drinking", "reading", "typing",
    "looking_around", "climbing", "crawling", "swimming", "flying",
    "celebrate", "dance", "cry", "laugh",
    "handshake", "hug", "high_five", "fight_stance",
)
#: Our actions the reference lacks, appended after it (append new ones, never reorder).
EXTRA_ACTIONS: tuple[str, ...] = ("unknown", "stand_up", "turn", "crouch", "fall")
#: Action vocabulary: indices agree with the reference; ours follow.
ACTIONS: tuple[str, ...] = REFERENCE_ACTIONS + EXTRA_ACTIONS
ACTION_INDEX = {name: i for i, name in enumerate(ACTIONS)}
#: Other names of an action (our earlier names, common verbs), resolved by ``action_index``.
ACTION_ALIASES = {"climb": "climbing", "throw": "throwing", "stand_still": "idle", "standing": "stand",
                  "lying_down": "lie_down", "throw_ball": "throwing"}
UNKNOWN_ACTION = ACTION_INDEX["unknown"]
NUM_ACTIONS = len(ACTIONS)
#: The sample schema version files and checkpoints record. 1: this project's first 16-action
#: vocabulary (``LEGACY_ACTIONS_V1``); 2: the reference-compatible vocabulary above.
SCHEMA_VERSION = 2
LEGACY_ACTIONS_V1: tuple[str, ...] = (
    "unknown", "idle", "walk", "run", "jump", "wave", "sit", "stand_up", "turn",
    "kick", "punch", "dance", "crouch", "fall", "climb", "throw",
)


def action_index(name: str) -> int:
    """Index of an action name (case-insensitive, aliases resolved); KeyError naming it if unknown."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    key = ACTION_ALIASES.get(key, key)
    if key not in ACTION_INDEX:
        raise KeyError(f"unknown action name {name!r} (known: {', '.join(ACTIONS)})")
    return ACTION_INDEX[key]


#: Old (schema 1) index -> current index.
LEGACY_V1_TO_CURRENT = np.array([action_index(n) for n in LEGACY_ACTIONS_V1], dtype=np.int64)

REQUIRED_KEYS = ("description", "motion")
OPTIONAL_TENSOR_KEYS = ("actions", "physics", "camera")


def action_name(index: int) -> str:
    """Name of an action index, for display; out-of-range indices read as 'unknown'
    (loading rejects them: ``validate_sample``)."""
    return ACTIONS[index] if 0 <= index < NUM_ACTIONS else "unknown"


@dataclass(frozen=True)
class Problem:
    """One broken rule of the sample contract."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _as_array(value: Any) -> np.ndarray | None:
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    return None


def _check_float_tensor(name: str, value: Any, problems: list[Problem]) -> np.ndarray | None:
    arr = _as_array(value)
    if arr is None:
        problems.append(Problem(name, f"expected a float tensor, got {type(value).__name__}"))
        return None
    if not np.issubdtype(arr.dtype, np.floating):
        problems.append(Problem(name, f"expected a floating-point dtype (float32), got {arr.dtype}"))
        return None
    return arr


def connectivity_error(motion: np.ndarray, tol: float = CONNECTIVITY_TOLERANCE) -> list[str]:
    """Names of shared joints whose two segment endpoints disagree by more than ``tol``.

    ``motion`` is ``[T, 48]`` or ``[T, A, 48]``; every frame and actor is checked at once.
    """
    segs = motion.reshape(*motion.shape[:-1], NUM_SEGMENTS, 4)
    bad: list[str] = []
    for name, (sa, ea), (sb, eb) in SHARED_JOINTS:
        a = segs[..., sa, 2 * ea: 2 * ea + 2]
        b = segs[..., sb, 2 * eb: 2 * eb + 2]
        if np.abs(a - b).max(initial=0.0) > tol:
            bad.append(name)
    pelvis = segs[..., 2, 2:4]
    hips_mid = 0.5 * (segs[..., 11, 0:2] + segs[..., 11, 2:4])
    if np.abs(pelvis - hips_mid).max(initial=0.0) > tol:
        bad.append("pelvis_center")
    return bad


def validate_sample(sample: Any, num_actions: int = NUM_ACTIONS) -> list[Problem]:
    """Every problem of ``sample`` against the canonical contract (empty list when valid)."""
    problems, motion = structure_problems(sample, num_actions)
    if motion is not None:
        problems.extend(motion_content_problems(motion))
    return problems


def motion_content_problems(motion: np.ndarray) -> list[Problem]:
    """Non-finite values and disconnected joints of a well-shaped motion array."""
    T = motion.shape[0]
    finite = np.isfinite(motion)
    if not finite.all():
        frames = np.nonzero(~finite.reshape(T, -1).all(axis=1))[0]
        return [Problem("motion", f"expected finite values, found NaN/inf in {len(frames)} frame(s), first at frame {int(frames[0])}")]
    bad = connectivity_error(motion)
    if bad:
        return [Problem("motion", f"disconnected joints ({', '.join(bad)}): shared joints of v3 segments must coincide within {CONNECTIVITY_TOLERANCE} m")]
    return []


def structure_problems(sample: Any, num_actions: int = NUM_ACTIONS) -> tuple[list[Problem], np.ndarray | None]:
    """Problems found without scanning the motion's values (keys, types, dtypes, shapes, small
    fields), and the motion array when its shape is right, for a content check (possibly batched)."""
    if not isinstance(sample, Mapping):
        return [Problem("sample", f"expected a dict, got {type(sample).__name__}")], None
    problems: list[Problem] = []
    for key in REQUIRED_KEYS:
        if key not in sample:
            problems.append(Problem(key, "missing required key"))
    if "description" in sample and not isinstance(sample["description"], str):
        problems.append(Problem("description", f"expected str, got {type(sample['description']).__name__}"))
    if "source" in sample and sample["source"] is not None and not isinstance(sample["source"], str):
        problems.append(Problem("source", f"expected str, got {type(sample['source']).__name__}"))

    T: int | None = None
    A: int | None = None
    motion = _check_float_tensor("motion", sample["motion"], problems) if "motion" in sample else None
    if motion is not None:
        if motion.ndim not in (2, 3) or motion.shape[-1] != MOTION_DIM:
            problems.append(Problem("motion", f"expected shape [T, 48] or [T, A, 48], got {list(motion.shape)}"))
            motion = None
        elif motion.shape[0] < 1 or (motion.ndim == 3 and motion.shape[1] < 1):
            problems.append(Problem("motion", f"expected T >= 1 frames (and A >= 1 actors), got shape {list(motion.shape)}"))
            motion = None
        else:
            T = motion.shape[0]
            A = motion.shape[1] if motion.ndim == 3 else None

    if sample.get("actions") is not None:
        arr = _as_array(sample["actions"])
        if arr is None:
            problems.append(Problem("actions", f"expected an int64 tensor, got {type(sample['actions']).__name__}"))
        elif not np.issubdtype(arr.dtype, np.integer):
            problems.append(Problem("actions", f"expected an integer dtype (int64), got {arr.dtype}"))
        else:
            want = "[T]" if A is None else "[T, A]"
            ok_shape = T is None or (arr.shape == (T,) if A is None else arr.shape in ((T, A), (T,)))
            if not ok_shape:
                problems.append(Problem("actions", f"expected shape {want} with T={T}, got {list(arr.shape)}"))
            if arr.size and (arr.min() < 0 or arr.max() >= num_actions):
                problems.append(Problem("actions", f"expected action indices in [0, {num_actions - 1}], got range [{int(arr.min())}, {int(arr.max())}]"))

    for key, width in (("physics", PHYSICS_DIM), ("camera", CAMERA_DIM)):
        if sample.get(key) is None:
            continue
        arr = _check_float_tensor(key, sample[key], problems)
        if arr is None:
            continue
        if arr.ndim != 2 or arr.shape[1] != width or (T is not None and arr.shape[0] != T):
            problems.append(Problem(key, f"expected shape [T, {width}] with T={T}, got {list(arr.shape)}"))
        elif not np.isfinite(arr).all():
            problems.append(Problem(key, "expected finite values, found NaN/inf"))

    if "embedding" in sample and sample["embedding"] is not None:
        arr = _check_float_tensor("embedding", sample["embedding"], problems)
        if arr is not None and arr.ndim != 1:
            problems.append(Problem("embedding", f"expected shape [D], got {list(arr.shape)}"))
        elif arr is not None and not np.isfinite(arr).all():
            problems.append(Problem("embedding", "expected finite values, found NaN/inf"))
    problems.extend(side_field_problems(sample))
    return problems, motion


def side_field_problems(sample: Mapping) -> list[Problem]:
    """Problems of the fields beyond the core tensors that tools read: ``fps`` (also in ``meta``),
    ``meta.injected_defects`` and a description that cannot be written as UTF-8."""
    problems: list[Problem] = []
    desc = sample.get("description")
    if isinstance(desc, str):
        try:
            desc.encode("utf-8")
        except UnicodeEncodeError as exc:
            problems.append(Problem("description", f"expected text that UTF-8 can encode, found a lone surrogate "
                                                   f"at character {exc.start}"))
    meta = sample.get("meta")
    if meta is not None and not isinstance(meta, Mapping):
        problems.append(Problem("meta", f"expected a dict, got {type(meta).__name__}"))
        meta = None
    for where, holder in (("fps", sample), ("meta.fps", meta or {})):
        fps = holder.get("fps")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float))
                                or not np.isfinite(fps) or not 0 < fps <= 1000):
            problems.append(Problem(where, f"expected a frame rate in (0, 1000], got {type(fps).__name__} "
                                           f"{str(fps)[:40]!r}"))
    defects = (meta or {}).get("injected_defects")
    if defects is not None and (not isinstance(defects, (list, tuple)) or
                                not all(isinstance(d, Mapping) for d in defects)):
        problems.append(Problem("meta.injected_defects", f"expected a list of dicts, got {type(defects).__name__}"))
    return problems


def batch_motion_problems(flat: np.ndarray, lengths: np.ndarray) -> list[list[Problem]]:
    """``motion_content_problems`` of many ``[T_i, 48]`` motions laid back to back in ``flat``,
    in a few whole-array passes (what annotation uses instead of one check per clip)."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    n = len(lengths)
    out: list[list[Problem]] = [[] for _ in range(n)]
    if n == 0:
        return out
    t = torch.from_numpy(flat)
    # one reduction finds the usual all-finite file; only a file with a NaN/inf pays per-frame
    bad_frame = (~torch.isfinite(t).all(dim=1) if not bool(torch.isfinite(t.sum(dim=1)).all())
                 else torch.zeros(len(t), dtype=torch.bool))
    # every shared joint's two endpoints, as column pairs of the 48-vector
    cols_a = [c for _, (sa, ea), _ in SHARED_JOINTS for c in (sa * 4 + 2 * ea, sa * 4 + 2 * ea + 1)]
    cols_b = [c for _, _, (sb, eb) in SHARED_JOINTS for c in (sb * 4 + 2 * eb, sb * 4 + 2 * eb + 1)]
    gap = (t[:, cols_a] - t[:, cols_b]).abs().amax(dim=1)
    pelvis_gap = (t[:, 10:12] - 0.5 * (t[:, 44:46] + t[:, 46:48])).abs().amax(dim=1)
    bad = (bad_frame | (gap > CONNECTIVITY_TOLERANCE) | (pelvis_gap > CONNECTIVITY_TOLERANCE)).numpy()
    row = np.repeat(np.arange(n), lengths)
    suspects = np.unique(row[bad])
    starts = np.cumsum(lengths) - lengths
    for i in suspects:  # only the (rare) bad clips get a per-clip look, for a precise message
        out[i] = motion_content_problems(flat[starts[i]: starts[i] + lengths[i]])
    return out


def motion_array(value: Any, what: str = "motion", width: int | None = MOTION_DIM) -> np.ndarray:
    """``value`` as a float32 array ``[T, width]`` or ``[T, A, width]`` (any last axis when ``width``
    is None); ``errors.MotionInputError`` naming ``what`` for None, text, objects or a wrong shape."""
    from .errors import MotionInputError

    arr = _as_array(value)
    if arr is None and isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            arr = None
    if arr is None or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
            or arr.dtype == np.bool_:
        got = type(value).__name__ if arr is None else f"dtype {arr.dtype}"
        raise MotionInputError(f"{what}: expected a float array or tensor, got {got}")
    shape = "[T, 48] or [T, A, 48]" if width == MOTION_DIM else f"[T, {width}]" if width else "[T, k]"
    if arr.ndim not in ((2, 3) if width in (MOTION_DIM, None) else (2,)) or (width and arr.shape[-1] != width):
        raise MotionInputError(f"{what}: expected shape {shape}, got {list(arr.shape)}")
    return arr.astype(np.float32, copy=False)
