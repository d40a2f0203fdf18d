"""AIST++ ``keypoints3d/*.pkl`` (COCO-17 joints, cm, 60 fps) -> our joints, genre from the file name.

Each pickle holds ``keypoints3d`` (triangulated) and usually ``keypoints3d_optim`` (smoothed by
the authors' optimisation; preferred), ``[T, 17, 3]``, y up. It is loaded with
``safe_pickle.load_numpy_pickle``: numpy arrays only. COCO has no neck, chest or head centre:
the neck is the shoulders' midpoint, the head centre the ears' midpoint, and the chest sits
0.45 of the way from neck to pelvis (our skeleton's upper/lower torso split). Frames the
triangulation lost (NaN) are filled in time. File names read
``g{genre}_s{situation}_c{camera}_d{dancer}_m{music}_ch{choreography}``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..schema import JOINT_NAMES
from .joints3d import Track3D
from .labels import Labels
from .gaps import fill_gaps
from .safe_pickle import load_numpy_pickle

AIST_FPS = 60.0
#: COCO-17 keypoint indices
COCO17 = {"nose": 0, "l_eye": 1, "r_eye": 2, "l_ear": 3, "r_ear": 4, "l_shoulder": 5, "r_shoulder": 6,
          "l_elbow": 7, "r_elbow": 8, "l_wrist": 9, "r_wrist": 10, "l_hip": 11, "r_hip": 12,
          "l_knee": 13, "r_knee": 14, "l_ankle": 15, "r_ankle": 16}
#: AIST++ genre codes -> genre names (the dataset's own list)
GENRES = {"BR": "break", "PO": "pop", "LO": "lock", "MH": "middle hip-hop", "LH": "LA-style hip-hop",
          "HO": "house", "WA": "waack", "KR": "krump", "JS": "street jazz", "JB": "ballet jazz"}
SITUATIONS = {"BM": "basic", "FM": "advanced", "MM": "moving camera", "GR": "group",
              "SH": "showcase", "CY": "cypher", "BT": "battle"}
_NAME = re.compile(r"g(?P<genre>[A-Z]{2})_s(?P<situation>[A-Z]{2})_c(?P<camera>[^_]+)_d(?P<dancer>\d+)"
                   r"_m(?P<music>[A-Z]{2}\d+)_ch(?P<choreography>\d+)")
_CHEST_FROM_NECK = 0.45


def coco_to_ours(kp: np.ndarray) -> np.ndarray:
    """``[T, 17, 3]`` COCO keypoints -> ``[T, 16, 3]`` our joints."""
    c = COCO17
    out = {n: kp[:, c[n]] for n in JOINT_NAMES if n in c}
    neck = 0.5 * (kp[:, c["l_shoulder"]] + kp[:, c["r_shoulder"]])
    pelvis = 0.5 * (kp[:, c["l_hip"]] + kp[:, c["r_hip"]])
    out.update(neck=neck, pelvis_center=pelvis, chest=neck + _CHEST_FROM_NECK * (pelvis - neck),
               head_center=0.5 * (kp[:, c["l_ear"]] + kp[:, c["r_ear"]]))
    return np.stack([out[n] for n in JOINT_NAMES], axis=1)


def read_aist(path: str | Path) -> Track3D:
    """One AIST++ keypoint pickle as our 16 joints in 3-D (file units, y up)."""
    p = Path(path)
    data = load_numpy_pickle(p)
    if not isinstance(data, dict):
        raise DatasetError(f"{p}: expected a dict with keypoints3d, got {type(data).__name__}", p)
    key = next((k for k in ("keypoints3d_optim", "keypoints3d") if k in data), None)
    if key is None:
        raise DatasetError(f"{p}: expected key keypoints3d_optim or keypoints3d, found {sorted(map(str, data))[:8]}", p)
    kp = np.asarray(data[key])
    if kp.ndim != 3 or kp.shape[1:] != (17, 3) or not np.issubdtype(kp.dtype, np.number):
        raise DatasetError(f"{p}: {key}: expected COCO-17 keypoints of shape [T, 17, 3], got {list(kp.shape)} {kp.dtype}", p)
    J = coco_to_ours(kp.astype(np.float64))
    J = fill_gaps(J, np.isfinite(J).all(axis=(1, 2)), str(p))
    return Track3D(J, AIST_FPS, str(p), {"format": "aist", "keypoints_key": key})


def aist_labels(path: str | Path) -> Labels:
    """Dance, with the genre as style and every part of the AIST++ name as a field."""
    m = _NAME.search(Path(path).stem)
    if not m:
        return Labels(label="dance", phrase="dances")
    f = m.groupdict()
    genre = GENRES.get(f["genre"], f["genre"])
    fields = dict(f, genre=genre, situation=SITUATIONS.get(f["situation"], f["situation"]))
    return Labels(label="dance", style=genre, phrase=f"dances in the {genre} style", fields=fields,
                  description=f"a person dances in the {genre} style")
