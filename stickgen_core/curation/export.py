"""Write the curated splits, their statistics and thresholds, atomically as a set.

Samples are read from their source files (one file at a time), checked again against the
sample contract (an annotation cache can only say where to look, never admit a bad clip)
and never modified in place: height normalisation and smoothing make new tensors, and the
curation scores go into a new ``annotations["curation"]`` entry of a copied dict.

The four files are written into a fresh generation folder ``.gen-*``; one ``os.replace`` of
the ``current`` link then switches all of them at once, and ``pretrain_data.pt`` etc. in the
output folder are links through ``current``. A kill at any moment leaves either the old set
or the new one. An output folder is locked against a second writer.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from ..errors import DatasetError
from ..io import (atomic_torch_save, atomic_write_text, clip_id, dataset_files, file_stamp, load_torch_file,
                  samples_from_object)
from ..paths import OutputLock, clean_stale_temps
from ..schema import validate_sample
from ..skeleton import normalize_height, smooth_time
from .config import SECTION, CurationConfig
from .thresholds import CurationResult

log = logging.getLogger(__name__)

PRETRAIN_FILE = "pretrain_data.pt"
SFT_FILE = "sft_data.pt"
STATS_FILE = "curation_stats.json"
THRESHOLDS_FILE = "curation_thresholds.yaml"
OUTPUT_FILES = (PRETRAIN_FILE, SFT_FILE, STATS_FILE, THRESHOLDS_FILE)
CURRENT = "current"
_GEN_PREFIX = ".gen-"


def curation_inputs(inputs, output_dir: str | Path) -> list[Path]:
    """The dataset files of ``inputs`` less this export's own outputs (curating a folder into itself)."""
    own = {fn(Path(output_dir) / name) for name in OUTPUT_FILES for fn in (os.path.abspath, os.path.realpath)}
    files = [f for p in inputs for f in dataset_files(p)]
    kept = [f for f in files if os.path.abspath(f) not in own and os.path.realpath(f) not in own]
    if files and not kept:
        raise DatasetError(f"{list(map(str, inputs))}: the only dataset files are the curated outputs of "
                           f"{output_dir}; give the original data as input")
    return list(dict.fromkeys(kept))


def _publish(out: Path, gen: Path) -> None:
    """Switch ``out/current`` to ``gen`` in one rename, and make the top-level names links through it."""
    tmp = out / f".{CURRENT}.{os.getpid()}.link.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(gen.name, tmp)
    os.replace(tmp, out / CURRENT)
    for name in OUTPUT_FILES:
        link, want = out / name, os.path.join(CURRENT, name)
        if link.is_symlink() and os.readlink(link) == want:
            continue
        tmp = out / f".{name}.{os.getpid()}.link.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(want, tmp)
        os.replace(tmp, link)
    fd = os.open(out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_generations(out: Path) -> None:
    """Generation folders other than the current one (replaced sets, or ones a kill left half-written)."""
    current = os.readlink(out / CURRENT) if (out / CURRENT).is_symlink() else None
    for d in out.glob(f"{_GEN_PREFIX}*"):
        if d.name != current and d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)


def _curated_copy(sample: dict, row: dict, quality: float, cfg: CurationConfig) -> dict:
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    out = dict(sample)
    keep = int(row.get("n_frames", len(sample["motion"])))
    if keep < len(sample["motion"]):  # trailing padding (annotate's n_frames) is not motion: trim it
        for key in ("motion", "actions", "physics", "camera"):
            if hasattr(out.get(key), "shape") and len(out[key]) == len(sample["motion"]):
                out[key] = out[key][:keep].clone()
        out["meta"] = dict(out.get("meta") or {}, trimmed_padding_frames=len(sample["motion"]) - keep)
    ground = float(row.get("ground_y", 0.0))
    if np.isfinite(ground) and abs(ground) > 1e-6:  # the data contract puts the floor at y = 0
        out["motion"] = out["motion"].clone()
        out["motion"][..., 1::2] -= ground
        if hasattr(out.get("camera"), "shape"):
            out["camera"] = out["camera"].clone()
            out["camera"][..., 1] -= ground
        out["meta"] = dict(out.get("meta") or {}, floor_moved_to_zero_from=round(ground, 4))
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


def _same_clip(raw: list, i: int, annotated_id: str) -> bool:
    """Whether sample ``i`` of the file read again has the id it was annotated with (a packed file's
    stored id, else the id computed from the sample)."""
    stored = getattr(raw, "clip_ids", None)
    return 0 <= i < len(raw) and (stored[i] if stored is not None else clip_id(raw[i])) == annotated_id


def _check_as_annotated(raw: list, i: int, annotated_id: str, f: str) -> None:
    """A DatasetError unless sample ``i`` of the file read again is the valid clip it was annotated as."""
    if not _same_clip(raw, i, annotated_id):
        raise DatasetError(f"{f}: sample {i} changed since it was annotated; annotate the file again", f)
    problems = validate_sample(raw[i])
    if problems:
        raise DatasetError(f"{f}: sample {i} is invalid ({'; '.join(map(str, problems))}) though its "
                           "annotation said valid; the annotation cache does not match the file: run "
                           "`stickgen annotate --no-cache` on it", f)


def export_splits(table: pd.DataFrame, result: CurationResult, output_dir: str | Path, config: CurationConfig,
                  progress: Callable[[int, int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None,
                  loaded: dict[str, tuple[tuple[int, int, int], list]] | None = None) -> dict[str, Path]:
    """Write pretrain_data.pt, sft_data.pt, curation_stats.json and curation_thresholds.yaml.

    Raises DatasetError when a source file changed since it was annotated (clip ids differ) or
    a chosen sample breaks the contract, or when another process is writing ``output_dir``.
    ``should_stop`` lets a caller cancel between files; nothing is written then. ``loaded`` (filled
    by ``annotate(..., loaded=)`` in this process) supplies the samples the table was computed from,
    for files not rewritten since: they are neither read nor checked again (a packed file, kept as
    ``(stamp, None)``, is read again but not checked again while its stamp holds).
    """
    out = Path(output_dir)
    with OutputLock(out):
        return _export_locked(table, result, out, config, progress, should_stop, loaded or {})


def _export_locked(table, result, out: Path, config: CurationConfig, progress, should_stop,
                   loaded: dict) -> dict[str, Path]:
    clean_stale_temps(out)
    _remove_old_generations(out)
    chosen = result.pretrain | result.sft
    rows = table.loc[chosen, ["file", "index", "clip_id", "artifact_score", "realism_score",
                              "camera_stability", "dominant_action", "n_frames"]
                      + (["ground_y"] if "ground_y" in table else [])].copy()
    rows["q"] = result.quality[chosen]
    rows["in_sft"] = result.sft[chosen]
    rows["in_pretrain"] = result.pretrain[chosen]
    pretrain, sft = [], []
    files = list(dict.fromkeys(rows["file"]))
    for fi, f in enumerate(files):
        if should_stop and should_stop():
            raise InterruptedError("export cancelled; no files were written")
        kept = loaded.get(f)
        annotated_here = kept is not None and kept[0] == file_stamp(f)
        # the very objects the table's ids and checks were computed from, or the file read and checked again
        raw = kept[1] if annotated_here and kept[1] is not None else \
            samples_from_object(load_torch_file(f), f)  # not mapped: SIGBUS
        if annotated_here and kept[1] is None:
            # a packed file this process annotated from its columns, every clip checked: read again, it is
            # the same file when its stamp is unchanged across the read (packed files are never rewritten
            # in place) and every id matches; else each clip is checked again
            annotated_here = file_stamp(f) == kept[0]
        for row in rows[rows["file"] == f].sort_values("index").to_dict("records"):
            i = int(row["index"])
            if not annotated_here:
                _check_as_annotated(raw, i, row["clip_id"], f)
            elif not _same_clip(raw, i, row["clip_id"]):
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
    created = _dt.datetime.now(_dt.timezone.utc)
    gen = out / f"{_GEN_PREFIX}{created:%Y%m%d-%H%M%S-%f}-{os.getpid()}"
    gen.mkdir()
    try:
        atomic_torch_save(pretrain, gen / PRETRAIN_FILE)
        atomic_torch_save(sft, gen / SFT_FILE)
        stats = dict(result.stats)
        stats.update({"config": config.to_dict(), "inputs": files, "created": created.isoformat(timespec="seconds"),
                      "files": {k: str(v) for k, v in paths.items()}})
        atomic_write_text(gen / STATS_FILE, json.dumps(stats, indent=2, default=str))
        atomic_write_text(gen / THRESHOLDS_FILE, yaml.safe_dump({SECTION: config.to_dict()}, sort_keys=False))
        _publish(out, gen)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise
    _remove_old_generations(out)
    log.info("wrote %d pretrain and %d SFT clips to %s", len(pretrain), len(sft), out)
    return paths
