"""100STYLE (``<Style>/<Style>_<Content>.bvh``, e.g. ``Angry/Angry_FW.bvh``): BVH plus its labels.

The motion is read by the BVH converter (``bvh.read_bvh``); the name gives the style (one of
the dataset's 100, e.g. ``Angry``, ``FlickLegs``) and the content code: forwards, backwards
or sidestep walking or running, idling, or one of three gait transitions.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from .bvh import read_bvh
from .joints3d import Track3D
from .labels import Labels, humanize

#: 100STYLE content code -> (the dataset's words for it, the description's phrase)
CONTENTS = {
    "FW": ("forwards walking", "walks forward"), "BW": ("backwards walking", "walks backward"),
    "SW": ("sidestep walking", "walks sideways"), "FR": ("forwards running", "runs forward"),
    "BR": ("backwards running", "runs backward"), "SR": ("sidestep running", "runs sideways"),
    "ID": ("idling", "stands idle"), "TR1": ("transitions", "changes gait"),
    "TR2": ("transitions", "changes gait"), "TR3": ("transitions", "changes gait"),
}


def read_style100(path: str | Path) -> Track3D:
    """The BVH converter's joints, tagged as 100STYLE."""
    track = read_bvh(path)
    track.meta = dict(track.meta, format="100style")
    return track


def style100_labels(path: str | Path) -> Labels:
    """Style and content from ``<Style>_<Content>``; DatasetError naming the file for another name."""
    p = Path(path)
    style, sep, content = p.stem.rpartition("_")
    if not sep or not style or content.upper() not in CONTENTS:
        raise DatasetError(f"{p}: expected a 100STYLE name <Style>_<Content>.bvh with content one of "
                           f"{', '.join(CONTENTS)}, got {p.name!r}", p)
    words, phrase = CONTENTS[content.upper()]
    return Labels(label=words, style=humanize(style), phrase=phrase,
                  fields={"style_name": style, "content": content.upper()})
