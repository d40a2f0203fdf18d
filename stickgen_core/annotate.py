"""Per-clip metrics table of a dataset (pandas), computed in chunks and cached on disk.

``annotate(paths)`` returns one row per clip: identity (clip_id, file, index, source,
description), length, dominant action, every metric of ``metrics.compute_metrics``,
the artifact/realism scores and the sample's own base quality. Tables are cached as
parquet keyed by the file's content and the annotation settings, so an unchanged file
re-annotates instantly and a changed one is recomputed.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from .clip_prep import batch_content_prep, metre_scales
from .annotation_table import (ANNOTATION_VERSION, AnnotateOptions, Progress, add_ident,  # noqa: F401  (re-exported)
                               finish_table, identity_table)
from .errors import DatasetError, StickGenError
from .io import atomic_path, dataset_files, file_stamp, load_torch_file, samples_from_object, stored_clip_ids
from .metrics import ClipInput, MetricThresholds, compute_metrics  # noqa: F401  (re-exported)
from .packed import is_packed
from .schema import ACTIONS, batch_motion_problems, structure_problems  # noqa: F401  (ACTIONS: re-exported)
from .threads import single_thread

log = logging.getLogger(__name__)


def file_digest(path: str | Path) -> str:
    """Content hash of a file (streamed)."""
    h = hashlib.blake2b(digest_size=12)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _np(x) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _scaled(x, n: int, scale: float, cols: int | None = None) -> np.ndarray | None:
    """The first ``n`` rows of a per-frame array, lengths (all columns, or the first ``cols``) scaled."""
    a = _np(x)
    if a is None or a.ndim < 1:
        return a
    a = np.array(a[:n], dtype=np.float32)
    if cols is None:
        a *= scale
    elif a.ndim == 2:
        a[:, :cols] *= scale
    return a


def annotate_samples(samples: Sequence, *, file: str = "", options: AnnotateOptions = AnnotateOptions(),
                     progress: Progress | None = None,
                     should_stop: Callable[[], bool] | None = None) -> pd.DataFrame:
    """Metrics table of in-memory samples (never modified). Invalid samples get a row
    with ``valid`` False and their problems, not an exception.

    Runs on one thread: its batches are cache-sized (``chunk_frames``), so each op is
    short and a second thread mostly waits at barriers (measured 2-5x slower with 2
    threads when another process keeps a core busy)."""
    with single_thread():
        return _annotate_samples(samples, file, options, progress, should_stop)


def _annotate_samples(samples: Sequence, file: str, options: AnnotateOptions, progress: Progress | None,
                      should_stop: Callable[[], bool] | None) -> pd.DataFrame:
    ident: dict[str, list] = {k: [] for k in ("index", "source", "description", "fps", "base_quality",
                                              "problems", "injected")}
    motions: dict[int, np.ndarray] = {}
    for i, s in enumerate(samples):
        problems, motion = structure_problems(s)
        add_ident(ident, i, s, problems)
        if not problems and motion is not None:
            motions[i] = np.asarray(motion, dtype=np.float32)
    # value checks (finite, connected) for every structurally sound clip in one pass
    if motions:
        keys = list(motions)
        flat_list = [motions[i].reshape(-1, 48) for i in keys]
        content = batch_motion_problems(np.concatenate(flat_list), np.array([len(f) for f in flat_list]))
        for i, probs in zip(keys, content):
            if probs:
                ident["problems"][i] = "; ".join(map(str, probs))
                del motions[i]
    valid_idx = list(motions)
    ids = dict(zip(valid_idx, stored_clip_ids(samples, valid_idx)))  # a packed file's are stored
    table = identity_table(ident, ids, file)
    lengths = np.array([len(motions[i]) for i in valid_idx], dtype=np.int64)
    metric_cols: dict[str, np.ndarray] = {}
    fps_of = ident["fps"]
    kept_len, heights = batch_content_prep([motions[i] for i in valid_idx],
                                           np.array([int(fps_of[i]) for i in valid_idx], dtype=np.int64))
    scale = metre_scales(heights)
    if valid_idx:
        order = np.argsort(lengths, kind="stable")  # similar lengths share a batch: little padding
        budget = max(options.chunk_frames, int(lengths.max()))
        chunks, cur, cur_frames = [], [], 0
        for k in order:
            if cur and cur_frames + lengths[k] > budget:
                chunks.append(cur)
                cur, cur_frames = [], 0
            cur.append(k)
            cur_frames += int(lengths[k])
        chunks.append(cur)
        done = 0
        for chunk in chunks:
            if should_stop and should_stop():
                raise InterruptedError("annotation cancelled")
            clips = []
            ground = {"zero": 0.0, "estimate": None, "auto": "auto"}[options.ground]
            for k in chunk:
                s = samples[valid_idx[k]]
                keep, sc = int(kept_len[k]), float(scale[k])
                clips.append(ClipInput(motions[valid_idx[k]][:keep] * sc, fps_of[valid_idx[k]],
                                       _scaled(s.get("physics"), keep, sc), _scaled(s.get("camera"), keep, sc, cols=2),
                                       _np(s.get("actions"))[:keep] if s.get("actions") is not None else None,
                                       ground))
            res = compute_metrics(clips, options.thresholds)
            for name, vals in res.items():
                col = metric_cols.setdefault(name, np.full(len(valid_idx), np.nan))
                col[np.asarray(chunk)] = vals
            done += len(chunk)
            if progress:
                progress(done, len(valid_idx))
    total = np.array([len(s["motion"]) if isinstance(s, dict) and hasattr(s.get("motion"), "__len__") else 0
                      for s in samples], dtype=np.int64)
    return finish_table(table, valid_idx, metric_cols, total, kept_len, heights, scale)


def cache_path(file: str | Path, options: AnnotateOptions = AnnotateOptions(),
               cache_dir: str | Path | None = None) -> Path:
    """Where ``annotate`` caches the table of ``file`` (keyed by its content and the settings)."""
    f = Path(file)
    cdir = Path(cache_dir) if cache_dir else f.parent / ".stickgen-cache"
    return cdir / f"{f.stem}.{file_digest(f)}.{options.key()}.parquet"


def write_cache(table: pd.DataFrame, file: str | Path, options: AnnotateOptions = AnnotateOptions(),
                cache_dir: str | Path | None = None, cache: Path | None = None) -> None:
    """Store ``table`` (the annotation of ``file``) so the next ``annotate`` of it is a cache hit
    (``cache``: its ``cache_path`` when already known, so the file is not hashed twice)."""
    cache = cache or cache_path(file, options, cache_dir)
    try:
        with atomic_path(cache) as tmp:
            table.to_parquet(tmp, index=False)
    except OSError as exc:
        log.warning("could not write annotation cache %s: %s", cache, exc)


def annotate(paths: str | Path | Iterable[str | Path], *, options: AnnotateOptions = AnnotateOptions(),
             cache_dir: str | Path | None = None, use_cache: bool = True,
             progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
             errors: list[tuple[str, str]] | None = None,
             loaded: dict[str, tuple[tuple[int, int, int], list]] | None = None) -> pd.DataFrame:
    """One row per clip of every dataset file under ``paths`` (files or folders).

    ``should_stop`` is polled between files and batches; when it returns True the call
    raises InterruptedError (files finished so far keep their caches). With an ``errors``
    list, a file that cannot be read is reported there as ``(file, message)`` and the
    other files are still annotated; without one, the first such file raises.

    Cached per file as ``<cache_dir or file's folder/.stickgen-cache>/<name>.<content>.<settings>.parquet``.
    With a ``loaded`` dict, each ``.pt`` file read here (not a cache hit) is kept in it as ``str(file) ->
    (file_stamp, samples)``: ``export_splits`` then writes those samples without reading and checking
    the file again. A packed file is annotated from its columns (``annotate_packed``), never as dicts,
    and kept as ``(file_stamp, None)``: export reads it again but does not check each clip again.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        try:
            files += dataset_files(p)
        except StickGenError as exc:
            if errors is None:
                raise
            errors.append((str(p), str(exc)))
    tables = []
    for fi, f in enumerate(files):
        try:
            tables.append(_annotate_file(f, options, cache_dir, use_cache, progress, should_stop, fi, len(files),
                                         loaded))
        except StickGenError as exc:
            if errors is None:
                raise
            errors.append((str(f), str(exc)))
        if progress:
            progress(fi + 1, len(files))
    if not tables:
        if errors:
            raise DatasetError("no readable dataset: " + "; ".join(msg for _, msg in errors[:3]))
        raise DatasetError(f"no dataset files in {list(paths)}")
    return pd.concat(tables, ignore_index=True)


def require_valid(table: pd.DataFrame, inputs) -> pd.DataFrame:
    """``table`` when it holds at least one valid clip, else a DatasetError saying why none is."""
    if len(table) and table["valid"].any():
        return table
    if not len(table):
        raise DatasetError(f"{list(map(str, inputs))}: no samples in the dataset file(s)")
    first = table.iloc[0]
    raise DatasetError(f"{first['file']}: no valid clip among {len(table)} sample(s); sample {first['index']}: "
                       f"{str(first['problems'])[:200]}", first["file"])


def _annotate_file(f: Path, options: AnnotateOptions, cache_dir, use_cache: bool, progress, should_stop,
                   fi: int, n_files: int, loaded: dict | None = None) -> pd.DataFrame:
    cache = cache_path(f, options, cache_dir)
    if use_cache and cache.exists():
        try:
            t = pd.read_parquet(cache)
            t["file"] = str(f)
            log.info("annotation cache hit for %s", f)
            return t
        except Exception as exc:  # a damaged cache is only a cache: recompute
            log.warning("ignoring unreadable annotation cache %s: %s", cache, exc)
    sub = None
    if progress:
        sub = lambda done, total: progress(fi + done / max(total, 1), n_files)  # noqa: E731
    if is_packed(f):  # from its columns, batch by batch: no sample dicts (``annotate_packed``)
        from .annotate_packed import annotate_packed_file
        stamp = file_stamp(f)
        t = annotate_packed_file(f, options, sub, should_stop)
        write_cache(t, f, options, cache_dir, cache)
        if loaded is not None:  # every clip checked here: export reads it again without checking each
            loaded[str(f)] = (stamp, None)
        return t
    stamp = file_stamp(f)  # before reading: a rewrite during the read makes the kept copy stale
    samples = samples_from_object(load_torch_file(f), f)  # not mapped: truncation under a map is SIGBUS
    if len(samples) == 0:
        raise DatasetError(f"{f}: the file holds no clips (expected a list of samples)", f)
    t = annotate_samples(samples, file=str(f), options=options, progress=sub, should_stop=should_stop)
    write_cache(t, f, options, cache_dir, cache)
    if loaded is not None:
        loaded[str(f)] = (stamp, samples)
    return t
