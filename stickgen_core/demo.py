"""A demo workspace: a synthetic dataset with defects and a preview GIF per action."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .io import save_dataset
from .render import save_gif
from .synth.actions import ACTION_SPECS
from .synth import SynthConfig, generate_dataset

DEMO_DATASET = "datasets/demo_synth.pt"


def build_demo_workspace(workspace: str | Path, *, num_samples: int = 2000, seed: int = 0,
                         defect_rate: float = 0.2, previews: bool = True,
                         progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Fill ``workspace`` with ``datasets/demo_synth.pt`` and ``previews/<action>.gif``.

    An existing demo dataset is kept (nothing is regenerated or lost). Returns summary lines.
    """
    ws = Path(workspace)
    data = ws / DEMO_DATASET
    lines = []
    if data.exists():
        lines.append(f"demo dataset already present: {data}")
        return lines
    samples = generate_dataset(num_samples, seed=seed, config=SynthConfig(defect_rate=defect_rate), progress=progress)
    save_dataset(samples, data)
    lines.append(f"wrote {len(samples)} clips to {data}")
    if not previews:
        return lines
    out = ws / "previews"
    seen: set[str] = set()
    for s in samples:
        if s["motion"].dim() != 2 or s["meta"]["injected_defects"]:
            continue
        first = s["meta"]["timeline"][0]["action"]
        if first in seen or len(s["meta"]["timeline"]) != 1:
            continue
        seen.add(first)
        save_gif(s["motion"], out / f"{first}.gif", title=s["description"], every=2, size=(240, 240))
        if len(seen) == len(ACTION_SPECS):
            break
    lines.append(f"wrote {len(seen)} preview GIFs to {out}")
    return lines
