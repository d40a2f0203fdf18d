"""Clips of a packed file or sharded set read by position, through memory maps kept open.

``PackedReader`` is the training loader's source: ``reader[i]`` reads clip ``i``'s values from
the map (its own pages only) and returns a validated sample dict as ``load_dataset`` gives it;
nothing is kept between reads. The mapped pages are the page cache's: the kernel drops them
under memory pressure, so an epoch over a split larger than RAM (or than the process's data
limit) streams through it. Per-clip facts the split needs up front (clip ids, frame counts,
embedding shapes) come from the small columns; one field of many clips (``head``, ``only``)
reads just that field's pages.

Packed files are never rewritten in place (``packed``), so a map stays valid while it is open;
a file truncated under a map by someone else would raise SIGBUS, which is why whole-file loads
read instead of map.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from .errors import DatasetError, SampleValidationError
from .io import SkippedSample
from .migrate import upgrade_sample
from .packed import TENSORS, _batch, _decode, _open, _rows_per_batch, shard_files
from .schema import validate_sample


class PackedReader(Sequence):
    """The clips of a packed file or set, each read on demand (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        files = shard_files(self.path) if self.path.is_dir() else [self.path]
        self._files: list[tuple[Path, pa.ipc.RecordBatchFileReader, int]] = []
        self._starts: list[int] = []
        ids: list[str] = []
        frames: list[np.ndarray] = []
        for f in files:
            reader = _open(f, mapped=True)
            self._files.append((f, reader, _rows_per_batch(reader, f)))
            self._starts.append(len(ids))
            for b in range(reader.num_record_batches):
                batch = _batch(reader, b, f)
                ids += batch.column("clip_id").to_pylist()
                frames.append(_first_dims(batch, "motion"))
        self.clip_ids = ids
        #: frames of each clip (the motion's first dimension), read from the shape column
        self.frames = np.concatenate(frames) if frames else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.clip_ids)

    def _locate(self, i: int) -> tuple[Path, pa.RecordBatch, int, int]:
        """(file, its record batch holding clip ``i``, row in the batch, position in the file)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = bisect.bisect_right(self._starts, i) - 1
        f, reader, rpb = self._files[k]
        local = i - self._starts[k]
        b, r = divmod(local, rpb)
        return f, _batch(reader, b, f), r, local

    def __getitem__(self, i: int) -> dict:  # type: ignore[override]
        """Clip ``i`` in the current schema, validated, with ``clip_id``, ``source_file``, ``source_index``."""
        f, batch, r, local = self._locate(i)
        got, ids = _decode(batch.slice(r, 1), f, local)
        try:
            s = upgrade_sample(got[0], f"{f} sample {local}")
        except ValueError as exc:
            raise SampleValidationError(str(exc), [str(exc)]) from None
        problems = validate_sample(s)
        if problems:
            raise SampleValidationError(f"{SkippedSample(str(f), local, tuple(problems))}; `stickgen validate` "
                                        "lists every problem", list(problems))
        return s | {"clip_id": ids[0], "source_file": str(f), "source_index": local}

    def field(self, i: int, name: str, count: int | None = None) -> np.ndarray | None:
        """Clip ``i``'s tensor ``name`` as stored (its first ``count`` values only, when given), or None."""
        f, batch, r, local = self._locate(i)
        col = batch.column(name)
        if not col[r].is_valid:
            return None
        shape = batch.column(f"{name}_shape")[r].as_py()
        lo, hi = int(col.offsets[r].as_py()), int(col.offsets[r + 1].as_py())
        values = col.values
        if shape is None or not 0 <= lo <= hi <= len(values) or int(np.prod(shape)) != hi - lo:
            raise DatasetError(f"{f}: corrupt packed dataset: sample {local} {name} holds {hi - lo} values for "
                               f"shape {shape}", f)
        if count is not None:
            return np.array(values.slice(lo, min(count, hi - lo)).to_numpy(zero_copy_only=False), TENSORS[name])
        return np.array(values.slice(lo, hi - lo).to_numpy(zero_copy_only=False), TENSORS[name]).reshape(shape)

    def shapes(self, name: str) -> list[list[int] | None]:
        """The stored shape of tensor ``name`` of every clip (None where absent), from the shape column."""
        out: list[list[int] | None] = []
        for f, reader, _ in self._files:
            for b in range(reader.num_record_batches):
                out += _batch(reader, b, f).column(f"{name}_shape").to_pylist()
        return out

    def only(self, *names: str) -> "FieldView":
        """A view whose items hold just the tensors ``names`` (only their pages are read)."""
        return FieldView(self, names)


class FieldView(Sequence):
    """``reader[i]`` reduced to some tensor fields (``PackedReader.only``)."""

    def __init__(self, reader: PackedReader, names: Sequence[str]) -> None:
        self.reader, self.names = reader, tuple(names)

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, i: int) -> dict:  # type: ignore[override]
        import torch  # on first use: ~1.5 s to import

        out = {}
        for n in self.names:
            v = self.reader.field(i, n)
            out[n] = None if v is None else torch.from_numpy(v)
        return out


def _first_dims(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """The first dimension of tensor ``name``'s shape for every row (0 where absent)."""
    shapes = batch.column(f"{name}_shape")
    off = shapes.offsets.to_numpy()
    vals = shapes.values.to_numpy(zero_copy_only=False)
    has = ~shapes.is_null().to_numpy(zero_copy_only=False) & (np.diff(off) > 0)
    out = np.zeros(len(batch), np.int64)
    out[has] = vals[off[:-1][has]]
    return out
