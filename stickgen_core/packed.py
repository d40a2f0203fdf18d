"""Packed datasets: columns of clips in Arrow IPC files, memory-mapped, for 100,000s of clips.

A packed dataset is one ``.arrow`` file, or (``shard_size``) a folder of ``shard-NNNNN.arrow``
files and an ``index.json`` naming them with their clip counts and sizes. Every reader of
dataset files accepts either (``io.load_torch_file`` / ``io.dataset_files`` dispatch here).

Layout of a file: record batches of ``rows_per_batch`` clips; per clip ``clip_id`` (computed once
at write), ``description``, ``source``, ``fps`` and, for each of motion / actions / physics /
camera / embedding, its values as one ``large_list`` column (all clips' values back to back plus
per-clip offsets) and its shape (``[T, 48]``, ``[T, A, 48]``...); ``meta`` and every other key as
JSON text (``extra``, tensors tagged). Tensors are stored in the contract's dtypes (float32, int64).

Why one Arrow IPC file (pyarrow, already a dependency for the annotation caches), not
safetensors + Parquet: both arrays and columns live in one file, so a set cannot half-update; IPC
buffers are stored raw at offsets the footer gives, so ``pa.memory_map`` reads clip k as
``values[offsets[k]:offsets[k+1]]`` touching only its pages (Parquet encodes and compresses pages:
one clip decodes a whole page); it holds no pickle — the reader compares the schema with ours
field by field before reading, so no extension type is ever instantiated. Measured by
``tests/benchmarks/bench_dataset_format.py`` (figures in the README).

Writes go to a temp folder beside the target and appear with one rename; a file is never
rewritten in place, so a map of an old file stays valid (its inode lives on). A file truncated by
someone else is caught at open (the footer is at the end; shard sizes are checked against the
index); whole-file loads read through ``pa.OSFile`` (no map, no SIGBUS); only single-clip reads map.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa

from .errors import DatasetError

PACKED_SUFFIX = ".arrow"
INDEX_FILE = "index.json"
FORMAT = "stickgen-packed"
FORMAT_VERSION = 1
ROWS_PER_BATCH = 1024
_MAGIC = b"ARROW1"

#: tensor fields stored as columns, with the dtype the contract gives them
TENSORS: dict[str, Any] = {"motion": np.float32, "actions": np.int64, "physics": np.float32,
                           "camera": np.float32, "embedding": np.float32}
_ARROW = {np.float32: pa.float32(), np.int64: pa.int64()}
_COLUMNS = ("clip_id", "description", "source", "fps", "meta", "extra")

SCHEMA = pa.schema(
    [pa.field("clip_id", pa.string(), nullable=False), pa.field("description", pa.large_string()),
     pa.field("source", pa.large_string()), pa.field("fps", pa.float64()), pa.field("meta", pa.large_string()),
     pa.field("extra", pa.large_string())]
    + [f for k, dt in TENSORS.items()
       for f in (pa.field(k, pa.large_list(_ARROW[dt])), pa.field(f"{k}_shape", pa.list_(pa.int32())))])


class PackedSamples(list):
    """The samples of a packed file (plain dicts of tensors), with the ``clip_ids`` stored at write."""

    def __init__(self, samples: Iterable[dict], clip_ids: Sequence[str]) -> None:
        super().__init__(samples)
        self.clip_ids = list(clip_ids)


# --------------------------------------------------------------------------- detection
def is_packed(path: str | os.PathLike) -> bool:
    """True for a packed file (Arrow IPC magic) or a sharded set (a folder with ``index.json``)."""
    p = Path(path)
    if p.is_dir():
        return (p / INDEX_FILE).is_file()
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as fh:
            return fh.read(len(_MAGIC)) == _MAGIC
    except OSError:
        return False


def shard_files(folder: str | os.PathLike) -> list[Path]:
    """The shard files of a sharded set, in order, after checking each exists with its recorded size."""
    return [f for f, _ in _shards(folder)]


def _shards(folder: str | os.PathLike) -> list[tuple[Path, int]]:
    """(shard file, clips the index records for it) of a sharded set, each shard checked as above."""
    from .limits import JSON_BYTES, read_bounded

    p = Path(folder)
    index_path = p / INDEX_FILE
    raw = read_bounded(index_path, JSON_BYTES, "a packed dataset index", lambda m: DatasetError(m, index_path))
    try:
        index = json.loads(raw)
        if index.get("format") != FORMAT or not isinstance(index.get("shards"), list):
            raise ValueError(f"expected format {FORMAT!r} with a list of shards")
        if index.get("version") != FORMAT_VERSION:
            raise ValueError(f"format version {index.get('version')!r}; this stickgen reads {FORMAT_VERSION}")
        shards = [(str(s["file"]), int(s["bytes"]), int(s["clips"])) for s in index["shards"]]
        if len({name for name, _, _ in shards}) != len(shards):
            raise ValueError("a shard is named twice")
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise DatasetError(f"{index_path}: not a packed dataset index ({exc})", index_path) from None
    out = []
    for name, size, clips in shards:
        f = p / name
        if Path(name).name != name or not f.is_file():  # no path outside the set's folder
            raise DatasetError(f"{f}: shard named by {index_path} is missing", f)
        if f.stat().st_size != size:
            raise DatasetError(f"{f}: truncated or rewritten shard ({f.stat().st_size:,} bytes, the index "
                               f"records {size:,})", f)
        out.append((f, clips))
    return out


# --------------------------------------------------------------------------- writing
def _tensor(value: Any, dtype: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(value), dtype=dtype)


def _json_default(value: Any) -> Any:
    if hasattr(value, "detach") or isinstance(value, np.ndarray):
        arr = _tensor(value, None)
        return {"__tensor__": str(arr.dtype), "shape": list(arr.shape), "data": arr.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store a {type(value).__name__}")


def _json(value: Any, where: str) -> str:
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{where}: cannot pack ({exc}); expected tensors, numbers, text, lists and dicts") from None


def _list_column(arrays: list[np.ndarray | None], dtype: Any) -> tuple[pa.Array, pa.Array]:
    lengths = np.array([0 if a is None else a.size for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    present = [a.ravel() for a in arrays if a is not None]
    values = np.concatenate(present) if present else np.zeros(0, dtype)
    mask = pa.array([a is None for a in arrays], pa.bool_())
    col = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, _ARROW[dtype]), mask=mask)
    shapes = pa.array([None if a is None else list(a.shape) for a in arrays], pa.list_(pa.int32()))
    return col, shapes


def _record_batch(samples: Sequence[dict], ids: Sequence[str], first: int) -> pa.RecordBatch:
    cols: dict[str, Any] = {"clip_id": ids, "description": [], "source": [], "fps": [], "meta": [], "extra": []}
    tensors: dict[str, list] = {k: [] for k in TENSORS}
    for i, s in enumerate(samples):
        where = f"sample {first + i}"
        extra = {k: v for k, v in s.items() if k not in _COLUMNS and k not in TENSORS}
        fps = s.get("fps")
        if fps is not None and not (isinstance(fps, (int, float)) and not isinstance(fps, bool)):
            extra["fps"], fps = fps, None
        for k in ("description", "source", "meta"):
            if k in s and s[k] is None:
                extra[k] = None  # present-but-None survives the round trip
        for k, dt in TENSORS.items():
            v = s.get(k)
            if k in s and v is None:
                extra[k] = None
            tensors[k].append(None if v is None else _tensor(v, dt))
        cols["description"].append(s.get("description"))
        cols["source"].append(s.get("source"))
        cols["fps"].append(None if fps is None else float(fps))
        cols["meta"].append(None if s.get("meta") is None else _json(s["meta"], f"{where} meta"))
        cols["extra"].append(_json(extra, where) if extra else None)
    arrays = [pa.array(cols[f.name], f.type) for f in SCHEMA if f.name in cols]
    for k, dt in TENSORS.items():
        arrays.extend(_list_column(tensors[k], dt))
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def _write_file(path: Path, samples: Sequence[dict], ids: Sequence[str], first: int) -> None:
    meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "rows_per_batch": str(ROWS_PER_BATCH)}
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA.with_metadata(meta)) as writer:
        for start in range(0, len(samples), ROWS_PER_BATCH):
            end = start + ROWS_PER_BATCH
            writer.write_batch(_record_batch(samples[start:end], ids[start:end], first + start))
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def write_packed(samples: Sequence[dict], clip_ids: Sequence[str], out: str | os.PathLike, *,
                 shard_size: int | None = None, overwrite: bool = False) -> Path:
    """Write ``samples`` (valid, canonical dicts) as a packed file, or a sharded folder when
    ``shard_size`` (clips per shard) is given; atomically: all of it appears at once or nothing."""
    target = Path(out)
    if len(samples) != len(clip_ids):
        raise ValueError("one clip id per sample expected")
    if shard_size is not None and shard_size < 1:
        raise DatasetError(f"--shard-size {shard_size}: expected a whole number of clips of at least 1")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise DatasetError(f"{target}: already exists; pass --force to replace it (it is replaced whole, "
                           "never rewritten in place)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        if shard_size is None:
            _write_file(tmp / "data.arrow", samples, clip_ids, 0)
            staged = tmp / "data.arrow"
        else:
            shards = []
            for n, start in enumerate(range(0, max(len(samples), 1), shard_size)):
                name = f"shard-{n:05d}{PACKED_SUFFIX}"
                part = slice(start, start + shard_size)
                _write_file(tmp / name, samples[part], clip_ids[part], start)
                shards.append({"file": name, "clips": len(samples[part]), "bytes": (tmp / name).stat().st_size})
            index = {"format": FORMAT, "version": FORMAT_VERSION, "clips": len(samples), "shards": shards}
            (tmp / INDEX_FILE).write_text(json.dumps(index, indent=1), encoding="utf-8")
            staged = tmp
        _publish(staged, target)
    except OSError as exc:  # a full disk, no permission: nothing was published, the old target is whole
        raise DatasetError(f"{target}: cannot write ({exc.strerror or _short(exc)}); nothing was changed",
                           target) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _publish(staged: Path, target: Path) -> None:
    """Move ``staged`` to ``target`` with one rename; an old target is moved aside first, then deleted
    (its files are unlinked, never truncated: open maps of them stay valid)."""
    old = target.parent / f".{target.name}.{os.getpid()}.old"
    if target.exists() and (target.is_dir() or staged.is_dir()) and not target.is_symlink():
        os.rename(target, old)  # a folder cannot be replaced by one rename, nor a file by a folder
    os.replace(staged, target)
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


# --------------------------------------------------------------------------- reading
def _open(path: Path, mapped: bool) -> pa.ipc.RecordBatchFileReader:
    try:
        source = pa.memory_map(str(path)) if mapped else pa.OSFile(str(path))
        reader = pa.ipc.open_file(source)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise DatasetError(f"{path}: truncated or corrupt packed dataset ({_short(exc)})", path) from None
    schema = reader.schema
    meta = schema.metadata or {}
    if meta.get(b"format") != FORMAT.encode() or not schema.remove_metadata().equals(SCHEMA):
        raise DatasetError(f"{path}: an Arrow file, but not a stickgen packed dataset (its columns differ; "
                           "write one with `stickgen pack`)", path)
    if meta.get(b"version") != str(FORMAT_VERSION).encode():
        raise DatasetError(f"{path}: packed format version {meta.get(b'version')!r}; this stickgen reads "
                           f"{FORMAT_VERSION}", path)
    return reader


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def _batch(reader: pa.ipc.RecordBatchFileReader, b: int, path: Path) -> pa.RecordBatch:
    try:
        batch = reader.get_batch(b)
        batch.validate()
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise DatasetError(f"{path}: truncated or corrupt packed dataset at batch {b} ({_short(exc)})", path) from None
    rpb, last = _rows_per_batch(reader, path), b == reader.num_record_batches - 1
    if batch.num_rows > rpb or (batch.num_rows < rpb and not last):  # positions are computed from rpb
        raise DatasetError(f"{path}: corrupt packed dataset: batch {b} holds {batch.num_rows} clips, "
                           f"expected {rpb}", path)
    return batch


def _decode(batch: pa.RecordBatch, path: Path, first: int) -> tuple[list[dict], list[str]]:
    """The sample dicts of a record batch (or a slice of one), a damaged file a DatasetError."""
    try:
        # the text and shape columns fully (offsets in bounds, UTF-8): their readers trust them; the
        # tensor columns' offsets are checked clip by clip where they are used
        for name in (*_COLUMNS, *(f"{k}_shape" for k in TENSORS)):
            batch.column(name).validate(full=True)
        return _decode_checked(batch, path, first)
    except (pa.ArrowException, UnicodeDecodeError, ValueError, TypeError, IndexError, OverflowError) as exc:
        raise DatasetError(f"{path}: truncated or corrupt packed dataset near sample {first} ({_short(exc)})",
                           path) from None


def _decode_checked(batch: pa.RecordBatch, path: Path, first: int) -> tuple[list[dict], list[str]]:
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up

    n = batch.num_rows
    col = {name: batch.column(name) for name in batch.schema.names}
    text = {k: col[k].to_pylist() for k in ("clip_id", "description", "source", "meta", "extra")}
    fps = col["fps"].to_pylist()
    samples: list[dict] = [{} for _ in range(n)]
    for k, dt in TENSORS.items():
        arr, shapes = col[k], col[f"{k}_shape"].to_pylist()
        offsets = arr.offsets.to_numpy()
        values = arr.values.to_numpy(zero_copy_only=False)
        nulls = arr.is_null().to_numpy(zero_copy_only=False)
        for i in range(n):
            if nulls[i]:
                continue
            lo, hi, shape = int(offsets[i]), int(offsets[i + 1]), shapes[i]
            if shape is None or not 0 <= lo <= hi <= len(values) or int(np.prod(shape)) != hi - lo:
                raise DatasetError(f"{path}: corrupt packed dataset: sample {first + i} {k} holds {hi - lo} "
                                   f"values for shape {shape}", path)
            samples[i][k] = torch.from_numpy(np.array(values[lo:hi], dtype=dt).reshape(shape))
    for i, s in enumerate(samples):
        where = f"{path}: sample {first + i}"
        for k in ("description", "source"):
            if text[k][i] is not None:
                s[k] = text[k][i]
        if fps[i] is not None:
            s["fps"] = int(fps[i]) if float(fps[i]).is_integer() else fps[i]
        if text["meta"][i] is not None:
            s["meta"] = _unjson(text["meta"][i], where)
        if text["extra"][i] is not None:
            s.update(_unjson(text["extra"][i], where))
    order = ("description", "motion", "actions", "physics", "camera", "source")  # a .pt sample's key order
    samples = [{k: s[k] for k in order if k in s} | s for s in samples]
    return samples, text["clip_id"]


def _untag(d: dict) -> Any:
    if set(d) == {"__tensor__", "shape", "data"}:
        import torch

        return torch.from_numpy(np.asarray(d["data"], dtype=d["__tensor__"]).reshape(d["shape"]))
    return d


def _unjson(text: str, where: str) -> Any:
    try:
        return json.loads(text, object_hook=_untag)
    except (ValueError, TypeError, RecursionError) as exc:
        raise DatasetError(f"{where}: corrupt packed field ({_short(exc)})") from None


def read_samples(path: str | os.PathLike) -> PackedSamples:
    """Every sample of a packed file or sharded set, with its stored clip ids (read, not mapped)."""
    samples: list[dict] = []
    ids: list[str] = []
    for f in shard_files(path) if Path(path).is_dir() else [Path(path)]:
        reader = _open(f, mapped=False)
        for b in range(reader.num_record_batches):
            got, got_ids = _decode(_batch(reader, b, f), f, len(samples))
            samples += got
            ids += got_ids
    return PackedSamples(samples, ids)


def count_clips(path: str | os.PathLike) -> int:
    """How many clips a packed file or set holds (read from footers and batch headers only)."""
    total = 0
    for f in shard_files(path) if Path(path).is_dir() else [Path(path)]:
        reader = _open(f, mapped=True)
        nb = reader.num_record_batches
        total += 0 if nb == 0 else (nb - 1) * _rows_per_batch(reader, f) + _batch(reader, nb - 1, f).num_rows
    return total


def _rows_per_batch(reader: pa.ipc.RecordBatchFileReader, path: Path) -> int:
    try:
        return int((reader.schema.metadata or {})[b"rows_per_batch"])
    except (KeyError, ValueError):
        raise DatasetError(f"{path}: corrupt packed dataset (no rows_per_batch)", path) from None


def locate_clip(path: str | os.PathLike, index: int) -> tuple[Path, int]:
    """The file holding clip ``index`` of a packed file or set, and its position in that file (from
    the index's counts: other shards are not opened)."""
    p, count = Path(path), 0
    for f, n in _shards(p) if p.is_dir() else []:
        if 0 <= index - count < n:
            return f, index - count
        count += n
    return (p, index) if not p.is_dir() else (p, -1)


def read_clip(path: str | os.PathLike, index: int) -> tuple[dict, str]:
    """Sample ``index`` of a packed file or set and its stored clip id, reading only that clip's
    pages (memory-mapped); DatasetError when out of range."""
    f, i = locate_clip(path, index)
    if i >= 0 and not f.is_dir():
        reader = _open(f, mapped=True)
        b, r = divmod(i, _rows_per_batch(reader, f))
        if b < reader.num_record_batches:
            batch = _batch(reader, b, f)
            if r < batch.num_rows:
                got, ids = _decode(batch.slice(r, 1), f, index)
                return got[0], ids[0]
    raise DatasetError(f"{path}: --index {index} is out of range (the dataset holds {count_clips(path)} sample(s); "
                       "positions start at 0)", path)


class PackedClips(Sequence):
    """The clips of a packed file or set, each read on demand from the map (previews: ~1 ms a
    clip at any file size, where a ``.pt`` list is read whole first)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._count = count_clips(self.path)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> dict:  # type: ignore[override]
        if not 0 <= index < self._count:
            raise IndexError(index)
        return read_clip(self.path, index)[0]
