"""Write the curated splits, their statistics and thresholds, atomically.

Samples are streamed from their source files (memory-mapped, one file at a time) and
never modified in place: height normalisation and smoothing make new tensors, and the
curation scores go into a new ``annotations["curation"]`` entry of a copied dict.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import yaml

from ..errors import DatasetError
from ..io import atomic_torch_save, atomic_write_text, clip_id, load_torch_file, samples_from_object
from ..skeleton import normalize_height, smooth_time
from .config import SECTION, CurationConfig
from .thresholds import CurationResult

log = logging.getLogger(__name__)

PRETRAIN_FILE = "pretrain_data.pt"
SFT_FILE = "sft_data.pt"
STATS_FILE = "curation_stats.json"
THRESHOLDS_FILE = "curation_thresholds.yaml"


def _curated_copy(sample: dict, row: pd.Series, quality: float, cfg: CurationConfig) -> dict:
    out = dict(sample)
    keep = int(row.get("n_frames", len(sample["motion"])))
    if keep < len(sample["motion"]):  # trailing padding (annotate's n_frames) is not motion: trim it
        for key in ("motion", "actions", "physics", "camera"):
            if hasattr(out.get(key), "shape") and len(out[key]) == len(sample["motion"]):
                out[key] = out[key][:keep].clone()
        out["meta"] = dict(out.get("meta") or {}, trimmed_padding_frames=len(sample["motion"]) - keep)
    if cfg.normalize_height or cfg.smooth:
        m = out["motion"].detach().cpu().numpy().astype(np.float32)
        if cfg.normalize_height:
            m = normalize_height(m, cfg.target_height)
        if cfg.smooth:
            m = smooth_time(m, cfg.smooth_sigma).astype(np.float32)
        out["motion"] = torch.from_numpy(np.ascontiguousarray(m))
    notes = dict(sample.get("annotations") or {}) if isinstance(sample.get("annotations"), dict) else {}
    notes["curation"] = {"quality": float(quality), "artifact_score": float(row["artifact_score"]),
                         "realism_score": float(row["realism_score"]),
                         "camera_stability": float(row["camera_stability"]),
                         "dominant_action": str(row["dominant_action"])}
    out["annotations"] = notes
    return out


def export_splits(table: pd.DataFrame, result: CurationResult, output_dir: str | Path, config: CurationConfig,
                  progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> dict[str, Path]:
    """Write pretrain_data.pt, sft_data.pt, curation_stats.json and curation_thresholds.yaml.

    Raises DatasetError when a source file changed since it was annotated (clip ids differ).
    ``should_stop`` lets a caller cancel between files; nothing is written then.
    """
    out = Path(output_dir)
    chosen = result.pretrain | result.sft
    rows = table.loc[chosen, ["file", "index", "clip_id", "artifact_score", "realism_score",
                              "camera_stability", "dominant_action", "n_frames"]].copy()
    rows["q"] = result.quality[chosen]
    rows["in_sft"] = result.sft[chosen]
    rows["in_pretrain"] = result.pretrain[chosen]
    pretrain, sft = [], []
    files = list(dict.fromkeys(rows["file"]))
    for fi, f in enumerate(files):
        if should_stop and should_stop():
            raise InterruptedError("export cancelled; no files were written")
        raw = samples_from_object(load_torch_file(f, mmap=True), f)
        for _, row in rows[rows["file"] == f].sort_values("index").iterrows():
            i = int(row["index"])
            if i >= len(raw) or clip_id(raw[i]) != row["clip_id"]:
                raise DatasetError(f"{f}: sample {i} changed since it was annotated; annotate the file again", f)
            s = _curated_copy(raw[i], row, row["q"], config)
            if row["in_pretrain"]:
                pretrain.append(s)
            if row["in_sft"]:
                sft.append(s)
        if progress:
            progress(fi + 1, len(files))
    paths = {"pretrain": out / PRETRAIN_FILE, "sft": out / SFT_FILE,
             "stats": out / STATS_FILE, "thresholds": out / THRESHOLDS_FILE}
    atomic_torch_save(pretrain, paths["pretrain"])
    atomic_torch_save(sft, paths["sft"])
    stats = dict(result.stats)
    stats.update({"config": config.to_dict(), "inputs": files,
                  "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "files": {k: str(v) for k, v in paths.items()}})
    atomic_write_text(paths["stats"], json.dumps(stats, indent=2, default=str))
    atomic_write_text(paths["thresholds"], yaml.safe_dump({SECTION: config.to_dict()}, sort_keys=False))
    log.info("wrote %d pretrain and %d SFT clips to %s", len(pretrain), len(sft), out)
    return paths
