"""Contact sheet of one (sample, actor) of a parallax root: a row per view, a column per step, each
tile labelled with its motion frame and camera, to look at renders without opening hundreds of PNGs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from ..errors import DatasetError
from ..io import atomic_path
from .metadata import read_metadata

LABEL = 14        # pixels of label above each tile
MAX_TILES = 400   # a sheet of more tiles would be unreadable (and huge)


def contact_sheet(root: str | Path, sample: int, actor: int = 0, tile: int = 192) -> Image.Image:
    """The renders of ``sample``/``actor`` under ``root`` as one image (views down, steps across)."""
    meta = Path(root) / f"sample_{sample:06d}" / f"actor_{actor}" / "metadata.json"
    if not meta.is_file():
        raise DatasetError(f"{meta}: not found; sample {sample}, actor {actor} has no renders under {root}", meta)
    frames = read_metadata(meta)
    if len(frames) > MAX_TILES:
        frames = [f for f in frames if f.view_id < max(1, MAX_TILES // (1 + max(x.step_index for x in frames)))]
    views = sorted({f.view_id for f in frames})
    steps = sorted({f.step_index for f in frames})
    row, col = {v: i for i, v in enumerate(views)}, {s: i for i, s in enumerate(steps)}
    sheet = Image.new("RGB", (tile * len(steps), (tile + LABEL) * len(views)), "white")
    draw = ImageDraw.Draw(sheet)
    for f in frames[:MAX_TILES]:
        x, y = col[f.step_index] * tile, row[f.view_id] * (tile + LABEL)
        with Image.open(f.path) as im:
            sheet.paste(im.convert("RGB").resize((tile, tile)), (x, y + LABEL))
        px, py, pz = f.camera[:3]
        draw.text((x + 2, y + 1), f"v{f.view_id} f{f.motion_frame} cam({px:.1f},{py:.1f},{pz:.1f}) "
                                  f"fov{f.camera[6]:.0f}", fill="black")
    return sheet


def save_contact_sheet(root: str | Path, sample: int, out: str | Path, actor: int = 0, tile: int = 192) -> Path:
    sheet = contact_sheet(root, sample, actor, tile)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(out)
