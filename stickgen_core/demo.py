"""A demo workspace: a synthetic dataset with defects and a preview GIF per action."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .annotate import AnnotateOptions, annotate_samples, write_cache
from .io import save_dataset
from .render import save_gif
from .synth import SynthConfig, generate_dataset, generate_sample
from .synth.actions import ACTION_SPECS

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


def generate_demo_dataset(workspace: str | Path, *, num_samples: int = 2000, seed: int = 0,
                          defect_rate: float = 0.2, chunk_size: int = 200,
                          options: AnnotateOptions = AnnotateOptions(),
                          on_partial: Callable[[tuple[pd.DataFrame, list[dict]]], None] | None = None,
                          progress: Callable[[int, int], None] | None = None,
                          should_stop: Callable[[], bool] | None = None) -> pd.DataFrame:
    """Generate and annotate the demo dataset chunk by chunk; return its metrics table.

    After each chunk ``on_partial((table_so_far, samples_so_far))`` lets a viewer show the first
    clips long before the whole set exists. At the end the dataset is written to
    ``<workspace>/datasets/demo_synth.pt`` and its annotation cached, so opening the workspace
    again is instant. The same samples as ``build_demo_workspace`` (same seed, same generator).
    """
    path = Path(workspace) / DEMO_DATASET
    cfg = SynthConfig(defect_rate=defect_rate)
    samples: list[dict] = []
    tables: list[pd.DataFrame] = []
    if progress:  # a count from the start: the first chunk (generated and annotated) takes seconds
        progress(0, num_samples)
    for start in range(0, num_samples, chunk_size):
        if should_stop and should_stop():
            raise InterruptedError("demo generation cancelled")
        chunk = [generate_sample(i, seed, cfg) for i in range(start, min(start + chunk_size, num_samples))]
        t = annotate_samples(chunk, file=str(path), options=options)
        t["index"] = np.arange(start, start + len(chunk))
        samples += chunk
        tables.append(t)
        if progress:
            progress(len(samples), num_samples)
        if on_partial:
            on_partial((_joined(tables), list(samples)))
    table = _joined(tables)
    save_dataset(samples, path)
    write_cache(table, path, options)
    return table


def _joined(tables: list[pd.DataFrame]) -> pd.DataFrame:
    t = pd.concat(tables, ignore_index=True)
    for col in ("source", "dominant_action"):
        t[col] = t[col].astype(str).astype("category")
    return t
