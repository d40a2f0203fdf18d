"""KIT-ML ``new_joints/*.npy`` (``[T, 21, 3]`` MMM joints, mm, 12.5 fps) and ``texts/*.txt`` -> our joints.

The layout is HumanML3D's (the same authors processed both): ``texts/<name>.txt`` beside
``new_joints/`` holds one ``caption#tokens#start#end`` line per annotator. The first caption
describes the clip; every caption is kept in ``meta.captions``.
"""

from __future__ import annotations

from pathlib import Path

from .humanml3d import captions, read_joints_npy
from .joints3d import Track3D
from .labels import Labels

KIT_FPS = 12.5
#: Our joint -> KIT-ML joint index (HumanML3D's ``kit_kinematic_chain``: root 0, spine 1-2,
#: lower/upper neck 3-4; right arm 5-7, left arm 8-10; right leg 11-15, left leg 16-20,
#: each leg hip, knee, ankle, metatarsal, toe).
KIT21 = {"pelvis_center": 0, "chest": 2, "neck": 3, "head_center": 4,
         "r_shoulder": 5, "r_elbow": 6, "r_wrist": 7, "l_shoulder": 8, "l_elbow": 9, "l_wrist": 10,
         "r_hip": 11, "r_knee": 12, "r_ankle": 13, "l_hip": 16, "l_knee": 17, "l_ankle": 18}


def read_kitml(path: str | Path) -> Track3D:
    """One KIT-ML ``new_joints`` file as our 16 joints in 3-D (file units, y up), its captions in ``meta``."""
    track = read_joints_npy(path, 21, KIT21, KIT_FPS, "kitml", "KIT-ML")
    track.meta["captions"] = captions(path)
    return track


def kitml_labels(path: str | Path) -> Labels:
    """The first caption as the description and the label its words map from."""
    caps = captions(path)
    return Labels(label=caps[0], description=caps[0]) if caps else Labels()
