"""Annotation of a packed file straight from its columns: no per-clip sample dicts.

Each record batch (``packed.ROWS_PER_BATCH`` clips) is read once; its motion column is already
all clips' frames back to back with per-clip offsets, which is the layout the metrics work on
(``metrics.FlatClips``), so structure checks, trimming, scaling and every metric are whole-array
passes over slices of it. Only the small per-clip fields (description, source, meta, extra keys)
are Python values. A clip the column checks cannot vouch for (a field stored as ``None``, an
older schema version to migrate, a malformed shape or value) is decoded as a dict and checked
and measured exactly as ``annotate_samples`` does, so the table equals the per-clip path's,
row for row (``tests/test_annotate_packed.py`` compares both).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from .annotation_table import AnnotateOptions, Progress, add_ident, finish_table, identity_table
from .clip_prep import batch_content_prep, metre_scales
from .errors import DatasetError, SampleValidationError
from .flat_clips import FlatClips
from .metrics import compute_metrics_flat
from .migrate import upgrade_sample
from .packed import _COLUMNS, TENSORS, _batch, _decode, _open, _short
from .schema import NUM_ACTIONS, SCHEMA_VERSION, batch_motion_problems, side_field_problems, structure_problems
from .threads import single_thread

#: keys that reach a packed file's ``extra`` column only when a field was stored as None or in an odd type
_ODD_EXTRA = frozenset(_COLUMNS) | frozenset(TENSORS)
_WIDTH = {"physics": 6, "camera": 3}


class _Column:
    """One tensor column of a batch: flat values, per-clip offsets, nulls and shapes (as arrays)."""

    def __init__(self, batch: pa.RecordBatch, name: str) -> None:
        arr = batch.column(name)
        self.values = arr.values.to_numpy(zero_copy_only=False)
        self.offsets = arr.offsets.to_numpy().astype(np.int64)
        self.null = arr.is_null().to_numpy(zero_copy_only=False)
        shapes = batch.column(f"{name}_shape")
        sh_off = shapes.offsets.to_numpy().astype(np.int64)
        sh_val = shapes.values.to_numpy(zero_copy_only=False).astype(np.int64)
        self.ndim = np.where(shapes.is_null().to_numpy(zero_copy_only=False), -1, np.diff(sh_off))
        n = len(self.ndim)
        self.dims = np.full((n, 3), -1, np.int64)  # the first three dims (-1 where absent)
        for k in range(3):
            has = self.ndim > k
            self.dims[has, k] = sh_val[sh_off[:-1][has] + k]
        # the stored sizes agree with the shapes (else the dict path names the damage)
        size = np.where(self.ndim >= 1, np.prod(np.where(self.dims >= 0, self.dims, 1), axis=1), 1)
        self.consistent = self.null | ((self.ndim <= 3) & (np.diff(self.offsets) == size)
                                       & (self.offsets[1:] <= len(self.values)))

    def count(self, flag: np.ndarray) -> np.ndarray:
        """Per clip: how many of its values are flagged (a running sum read at the offsets)."""
        c = np.concatenate([[0], np.cumsum(flag, dtype=np.int64)])
        return c[np.minimum(self.offsets[1:], len(flag))] - c[np.minimum(self.offsets[:-1], len(flag))]


def _column_ok(cols: dict[str, _Column]) -> np.ndarray:
    """Clips whose tensors the columns show to be well formed (what ``structure_problems`` checks)."""
    m = cols["motion"]
    T, A = m.dims[:, 0], np.where(m.ndim == 3, m.dims[:, 1], 1)
    ok = ~m.null & m.consistent & (((m.ndim == 2) & (m.dims[:, 1] == 48)) | ((m.ndim == 3) & (m.dims[:, 2] == 48)))
    ok &= (T >= 1) & (A >= 1)
    a = cols["actions"]
    shape_ok = ((a.ndim == 1) & (a.dims[:, 0] == T)) | ((m.ndim == 3) & (a.ndim == 2) & (a.dims[:, 0] == T)
                                                      & (a.dims[:, 1] == A))
    in_range = a.count((a.values < 0) | (a.values >= NUM_ACTIONS)) == 0
    ok &= a.null | (a.consistent & shape_ok & in_range)
    for k, width in _WIDTH.items():
        c = cols[k]
        ok &= c.null | (c.consistent & (c.ndim == 2) & (c.dims[:, 0] == T) & (c.dims[:, 1] == width)
                        & (c.count(~np.isfinite(c.values)) == 0))
    e = cols["embedding"]
    ok &= e.null | (e.consistent & (e.ndim == 1) & (e.count(~np.isfinite(e.values)) == 0))
    return ok


def _light_sample(desc, source, fps, meta: str | None, extra: str | None, where: str) -> tuple[dict, bool]:
    """A clip's small fields as the dict path sees them (no tensors), and whether ``extra`` holds
    a key the columns keep (a field stored as None or in an odd type: the dict path must judge it)."""
    d: dict = {}
    odd = False
    if desc is not None:
        d["description"] = desc
    if source is not None:
        d["source"] = source
    if fps is not None:
        d["fps"] = int(fps) if float(fps).is_integer() else fps
    try:
        if meta is not None:
            d["meta"] = json.loads(meta)
        if extra is not None:
            more = json.loads(extra)
            odd = not isinstance(more, dict) or not _ODD_EXTRA.isdisjoint(more)
            d.update(more if isinstance(more, dict) else {})
    except (ValueError, RecursionError) as exc:
        raise DatasetError(f"{where}: corrupt packed field ({_short(exc)})") from None
    return d, odd


class _FileAnnotation:
    """The rows of one packed file, batch by batch (identity lists, metric columns, lengths)."""

    def __init__(self, path: Path, options: AnnotateOptions) -> None:
        self.path, self.options = path, options
        self.ident: dict[str, list] = {k: [] for k in ("index", "source", "description", "fps", "base_quality",
                                                       "problems", "injected")}
        self.ids: dict[int, str] = {}
        self.valid: list[int] = []
        self.metrics: list[dict[str, np.ndarray]] = []
        self.total: list[np.ndarray] = []
        self.kept: list[np.ndarray] = []
        self.heights: list[np.ndarray] = []
        self.scales: list[np.ndarray] = []
        self.upgrade_failures: list[str] = []

    def add_batch(self, batch: pa.RecordBatch, first: int) -> None:
        for name in (*_COLUMNS, *(f"{k}_shape" for k in TENSORS)):  # as packed._decode: text and shapes in full
            try:
                batch.column(name).validate(full=True)
            except pa.ArrowException as exc:
                raise DatasetError(f"{self.path}: truncated or corrupt packed dataset near sample {first} "
                                   f"({_short(exc)})", self.path) from None
        n = batch.num_rows
        cols = {k: _Column(batch, k) for k in TENSORS}
        text = {k: batch.column(k).to_pylist() for k in ("clip_id", "description", "source", "meta", "extra")}
        fps = batch.column("fps").to_pylist()
        fast = _column_ok(cols)
        light = [_light_sample(text["description"][i], text["source"][i], fps[i], text["meta"][i], text["extra"][i],
                               f"{self.path}: sample {first + i}") for i in range(n)]
        slow: dict[int, dict] = {}
        slow_ids: dict[int, str] = {}
        for i, (d, odd) in enumerate(light):
            if odd or not fast[i] or "description" not in d or d.get("schema_version") != SCHEMA_VERSION:
                slow[i], slow_ids[i] = self._as_dict(batch, i, first)
        struct_ok = np.zeros(n, bool)
        for i in range(n):
            if i in slow:
                problems, _ = structure_problems(slow[i])
                add_ident(self.ident, first + i, slow[i], problems)
            else:
                problems = side_field_problems(light[i][0])
                add_ident(self.ident, first + i, light[i][0], problems)
            struct_ok[i] = not problems
        m = cols["motion"]
        T = np.maximum(m.dims[:, 0], 0)
        A = np.where(m.ndim == 3, m.dims[:, 1], 1)
        total = np.zeros(n, np.int64)
        for i in range(n):  # the frame count the table shows for every row (the dict path's len(motion))
            if i in slow:
                mo = slow[i].get("motion")
                total[i] = len(mo) if hasattr(mo, "__len__") and getattr(mo, "ndim", 1) else 0
            else:
                total[i] = T[i]
        self.total.append(total)
        columnar = [i for i in range(n) if struct_ok[i] and i not in slow]
        from_dicts = [i for i in range(n) if struct_ok[i] and i in slow]
        views = [m.values[m.offsets[i]: m.offsets[i + 1]].reshape(-1, 48) for i in columnar]
        views += [np.asarray(slow[i]["motion"], dtype=np.float32).reshape(-1, 48) for i in from_dicts]
        order = columnar + from_dicts
        whole = len(columnar) == n and m.offsets[0] == 0 and m.offsets[-1] == len(m.values) and len(m.values) % 48 == 0
        flat = m.values.reshape(-1, 48) if whole else np.concatenate(views) if len(views) > 1 else views[0] if views \
            else None  # every clip of the batch sound: the column itself, no copy
        with warnings.catch_warnings():  # the column is read-only; the checks only read it
            warnings.filterwarnings("ignore", "The given NumPy array is not writable")
            content = batch_motion_problems(flat, np.array([len(v) for v in views], np.int64)) if views else []
        good = []
        for i, v, probs in zip(order, views, content):
            if probs:
                self.ident["problems"][first + i] = "; ".join(map(str, probs))
            else:
                good.append((i, v))
        if not good:
            return
        idx = np.array([i for i, _ in good])
        fps_of = np.array([self.ident["fps"][first + i] for i in idx])
        shaped = [v.reshape(int(T[i]), int(A[i]), 48) if m.ndim[i] == 3 else v.reshape(int(T[i]), 48)
                  for i, v in good]
        kept, heights = batch_content_prep(shaped, fps_of.astype(np.int64))
        scale = metre_scales(heights)
        flat = _trimmed(cols, slow, idx, shaped, kept, scale, fps_of, self.options.ground)
        self.metrics.append(_measure(flat, self.options))
        for i in idx:
            self.ids[first + i] = slow_ids.get(i, text["clip_id"][i])
        self.valid += [first + int(i) for i in idx]
        self.kept.append(kept)
        self.heights.append(heights)
        self.scales.append(scale)

    def _as_dict(self, batch: pa.RecordBatch, i: int, first: int) -> tuple[dict, str]:
        """Clip ``i`` decoded and migrated as ``load_torch_file`` + ``samples_from_object`` give it."""
        got, ids = _decode(batch.slice(i, 1), self.path, first + i)
        try:
            return upgrade_sample(got[0], f"{self.path} sample {first + i}"), ids[0]
        except ValueError as exc:
            self.upgrade_failures.append(str(exc))
            return got[0], ids[0]

    def table(self) -> pd.DataFrame:
        if self.upgrade_failures:  # as upgrade_samples: the whole file is refused, naming the first
            f = self.upgrade_failures
            more = f" (and {len(f) - 1} more sample(s) like it)" if len(f) > 1 else ""
            raise SampleValidationError(f[0] + more, f)
        table = identity_table(self.ident, self.ids, str(self.path))
        metric_cols = {k: np.concatenate([m[k] for m in self.metrics]) for k in (self.metrics[0] if self.metrics else {})}
        cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dt)  # noqa: E731
        return finish_table(table, self.valid, metric_cols, cat(self.total, np.int64), cat(self.kept, np.int64),
                            cat(self.heights, np.float64), cat(self.scales, np.float64))


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The indices ``starts[i] .. starts[i] + lengths[i] - 1`` of every ``i``, back to back."""
    lengths = np.asarray(lengths, np.int64)
    before = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, np.int64) - before, lengths) + np.arange(int(lengths.sum()))


def _gather_rows(values: np.ndarray, starts: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """``rows[i]`` rows of ``width`` values from flat offset ``starts[i]``, for every ``i``, as ``[R, width]``."""
    if len(values) % width == 0 and not (starts % width).any():  # rows aligned: gather whole rows
        return values.reshape(-1, width)[_ranges(starts // width, rows)]
    return values[_ranges(starts, rows * width)].reshape(-1, width)  # a malformed clip shifted the rows


def _trimmed(cols: dict[str, _Column], slow: dict[int, dict], idx: np.ndarray, shaped: list[np.ndarray],
             kept: np.ndarray, scale: np.ndarray, fps: np.ndarray, ground: str) -> FlatClips:
    """The clips ``idx`` without their trailing padding, lengths at metre scale, back to back: one
    gather per column for the clips read from the columns, a copy each for the (rare) decoded ones."""
    sc32 = scale.astype(np.float32)  # the dict path multiplies float32 arrays by a Python float: float32 math
    A = np.array([1 if s.ndim == 2 else s.shape[1] for s in shaped], np.int64)
    col = np.array([i not in slow for i in idx.tolist()])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("motion", "physics", "camera", "actions")}
    counts: dict[str, np.ndarray] = {k: np.zeros(len(idx), np.int64) for k in ("physics", "camera", "actions")}
    c_idx, c_kept, c_sc = idx[col], kept[col], sc32[col]
    if col.any():
        m = cols["motion"]
        rows = c_kept * A[col]
        got = _gather_rows(m.values, m.offsets[c_idx], rows, 48)  # a copy: scaled in place
        got *= np.repeat(c_sc, rows)[:, None]
        parts["motion"].append(got)
        for k, width in _WIDTH.items():
            c = cols[k]
            has = ~c.null[c_idx]
            counts[k][np.flatnonzero(col)] = np.where(has, c_kept, -1)
            got = _gather_rows(c.values, c.offsets[c_idx][has], c_kept[has], width)
            factor = np.repeat(c_sc[has], c_kept[has])
            if k == "physics":
                got *= factor[:, None]
            else:
                got[:, :2] *= factor[:, None]
            parts[k].append(got)
        a = cols["actions"]
        n_act = np.where(a.null[c_idx], 0, c_kept * np.where(a.ndim[c_idx] == 2, A[col], 1))
        counts["actions"][np.flatnonzero(col)] = n_act
        parts["actions"].append(a.values[_ranges(a.offsets[c_idx], n_act)])
    for j in np.flatnonzero(~col).tolist():  # clips judged from their decoded dicts
        s, k, sc = slow[int(idx[j])], int(kept[j]), sc32[j]
        parts["motion"].append(np.asarray(s["motion"], dtype=np.float32)[:k].reshape(-1, 48) * sc)
        for name in _WIDTH:
            v = s.get(name)
            counts[name][j] = -1 if v is None else min(k, len(v))
            if v is not None:
                v = np.array(np.asarray(v)[:k], dtype=np.float32)
                if name == "physics":
                    v *= sc
                else:
                    v[:, :2] *= sc
                parts[name].append(v)
        act = s.get("actions")
        if act is not None:
            parts["actions"].append(np.asarray(act)[:k].reshape(-1))
            counts["actions"][j] = len(parts["actions"][-1])
    # parts are in ``idx`` order because ``add_batch`` puts the columnar clips first, decoded ones after
    g = {"zero": 0.0, "estimate": np.nan, "auto": np.inf}[ground]
    cat = lambda ps, shape, dt: (np.concatenate(ps) if len(ps) > 1 else ps[0]) if ps else np.zeros(shape, dt)  # noqa
    return FlatClips(cat(parts["motion"], (0, 48), np.float32).astype(np.float32, copy=False), kept, A,
                     fps.astype(np.float64), np.full(len(idx), g),
                     cat(parts["physics"], (0, 6), np.float32), counts["physics"],
                     cat(parts["camera"], (0, 3), np.float32), counts["camera"],
                     cat(parts["actions"], (0,), np.int64).astype(np.int64, copy=False), counts["actions"])


def _measure(flat: FlatClips, options: AnnotateOptions) -> dict[str, np.ndarray]:
    """``compute_metrics_flat`` in runs of clips of at most ``chunk_frames`` frames (cache-sized arrays),
    clips taken shortest first so each run pads little (anatomy pads its rows to the longest)."""
    order = np.argsort(flat.frames * flat.actors, kind="stable")
    flat = _take(flat, order)
    rows = flat.frames * flat.actors
    out: dict[str, list] = {}
    start, n = 0, len(rows)
    row_ends = np.cumsum(rows)
    while start < n:
        base = row_ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(row_ends, base + options.chunk_frames, side="right")), start + 1)
        for k, v in compute_metrics_flat(_slice(flat, start, stop), options.thresholds).items():
            out.setdefault(k, []).append(v)
        start = stop
    result = {}
    for k, v in out.items():
        result[k] = np.empty(n, np.concatenate(v).dtype)
        result[k][order] = np.concatenate(v)
    return result


def _take(flat: FlatClips, order: np.ndarray) -> FlatClips:
    """The clips of ``flat`` in ``order`` (one gather per field)."""
    def field(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        c = np.maximum(counts, 0)
        return values[_ranges((np.cumsum(c) - c)[order], c[order])]

    return FlatClips(field(flat.motion, flat.frames * flat.actors), flat.frames[order], flat.actors[order],
                     flat.fps[order], flat.ground[order], field(flat.physics, flat.physics_rows),
                     flat.physics_rows[order], field(flat.camera, flat.camera_rows), flat.camera_rows[order],
                     field(flat.actions, flat.action_counts), flat.action_counts[order])


def _slice(flat: FlatClips, a: int, b: int) -> FlatClips:
    """Clips ``a:b`` of ``flat`` (views)."""
    def part(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        c = np.maximum(counts, 0)
        lo = int(c[:a].sum())
        return values[lo: lo + int(c[a:b].sum())]

    return FlatClips(part(flat.motion, flat.frames * flat.actors), flat.frames[a:b], flat.actors[a:b], flat.fps[a:b],
                     flat.ground[a:b], part(flat.physics, flat.physics_rows), flat.physics_rows[a:b],
                     part(flat.camera, flat.camera_rows), flat.camera_rows[a:b],
                     part(flat.actions, flat.action_counts), flat.action_counts[a:b])


def annotate_packed_file(path: Path, options: AnnotateOptions = AnnotateOptions(), progress: Progress | None = None,
                         should_stop: Callable[[], bool] | None = None) -> pd.DataFrame:
    """The annotation table of one packed file (``annotate_samples``' table, from the columns)."""
    with single_thread():
        reader = _open(path, mapped=False)  # read, not mapped: truncation under a map is SIGBUS
        job = _FileAnnotation(path, options)
        first, nb = 0, reader.num_record_batches
        for b in range(nb):
            if should_stop and should_stop():
                raise InterruptedError("annotation cancelled")
            batch = _batch(reader, b, path)
            job.add_batch(batch, first)
            first += batch.num_rows
            if progress:
                progress(b + 1, nb)
        if first == 0:
            raise DatasetError(f"{path}: the file holds no clips (expected a list of samples)", path)
        return job.table()
