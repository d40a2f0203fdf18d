"""HumanML3D ``new_joints/*.npy`` (``[T, 22, 3]`` SMPL joints, y up, metres, 20 fps) -> canonical samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..limits import check_regular_file
from ..schema import JOINT_NAMES
from .joints3d import Track3D

HUMANML3D_FPS = 20.0
#: Our joint -> SMPL joint index (pelvis 0, hips 1/2, spine 3/6/9, knees 4/5, ankles 7/8,
#: neck 12, head 15, shoulders 16/17, elbows 18/19, wrists 20/21).
SMPL22 = {"pelvis_center": 0, "chest": 6, "neck": 12, "head_center": 15,
          "l_shoulder": 16, "l_elbow": 18, "l_wrist": 20, "r_shoulder": 17, "r_elbow": 19, "r_wrist": 21,
          "l_hip": 1, "l_knee": 4, "l_ankle": 7, "r_hip": 2, "r_knee": 5, "r_ankle": 8}


def read_joints_npy(path: str | Path, n: int, table: dict[str, int], fps: float, fmt: str, dataset: str) -> Track3D:
    """A ``[T, n, 3]`` joints ``.npy`` as our 16 joints through ``table`` (our joint -> the file's
    joint index); DatasetError naming the file and ``dataset`` for any other shape."""
    p = Path(path)
    check_regular_file(p, "a numpy joints file (.npy)", lambda msg: DatasetError(msg, p))  # a FIFO would hang np.load
    try:
        arr = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
        raise DatasetError(f"{p}: not a numpy joints file ({str(exc).splitlines()[0] if str(exc) else 'empty'})", p) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        got = "an archive (.npz)" if not isinstance(arr, np.ndarray) else f"dtype {arr.dtype}"
        raise DatasetError(f"{p}: expected numeric {dataset} joints [T, {n}, 3], got {got}", p)
    if arr.ndim != 3 or arr.shape[1:] != (n, 3):
        raise DatasetError(f"{p}: expected {dataset} joints of shape [T, {n}, 3], got {list(arr.shape)}", p)
    return Track3D(arr[:, [table[j] for j in JOINT_NAMES]].astype(np.float64), fps, str(p), {"format": fmt})


def read_humanml3d(path: str | Path) -> Track3D:
    """One ``new_joints`` file as our 16 joints in 3-D."""
    return read_joints_npy(path, 22, SMPL22, HUMANML3D_FPS, "humanml3d", "HumanML3D")


def captions(npy: str | Path) -> list[str]:
    """Every caption of ``texts/<name>.txt`` beside ``new_joints/`` (``text#tokens#start#end`` lines)."""
    p = Path(npy)
    txt = p.parent.parent / "texts" / f"{p.stem}.txt"
    if not txt.is_file():
        return []
    lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    return [t for t in (ln.split("#", 1)[0].strip() for ln in lines) if t]


def caption(npy: str | Path) -> str | None:
    """The first caption of ``texts/<name>.txt`` beside ``new_joints/``, or None."""
    return next(iter(captions(npy)), None)
