"""Pickles that may hold numpy arrays and nothing else (AIST++ ``keypoints3d/*.pkl``).

``pickle.load`` runs whatever a file names (``os.system`` and friends), so a downloaded
pickle is read with an unpickler whose ``find_class`` admits only the globals numpy's own
array pickling uses (array and scalar reconstruction, dtypes) and refuses every other one
with ``UnsafeFileError`` naming the file and the global. Containers, numbers and strings
need no globals. Object arrays are refused as well: their items are not plain numbers.
Even numpy's globals could allocate at will (``ndarray((1 << 40,))``), so ``ndarray`` is
only a token that ``_reconstruct`` accepts, and ``_reconstruct`` refuses an empty array
larger than ``PICKLE_ARRAY_BYTES`` (numpy's own pickles make it empty, then fill it from
bytes the file holds).
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError, UnsafeFileError
from ..limits import Limit, read_bounded

#: Size of a pickled keypoint file (AIST++'s are a few MB).
PICKLE_BYTES = Limit("STICKGEN_MAX_PICKLE_BYTES", 256 << 20, "bytes of a pickled keypoint file")
#: Bytes of one array a pickle may ask ``_reconstruct`` for before it fills it.
PICKLE_ARRAY_BYTES = Limit("STICKGEN_MAX_PICKLE_ARRAY_BYTES", 1 << 30, "bytes of one array in a pickle")
#: (module, name) pairs numpy writes when it pickles arrays, under numpy 1.x and 2.x names.
_NUMPY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # protocol 2 writes an array's bytes through it
})


def _resolve(module: str, name: str) -> Any:
    # numpy 2 keeps numpy.core as a warning shim: go to numpy._core where it exists
    if module.startswith("numpy.core."):
        try:
            return getattr(importlib.import_module("numpy._core." + module.split(".", 2)[2]), name)
        except ImportError:
            pass
    return getattr(importlib.import_module(module), name)


class _ArrayType:
    """Stands for ``numpy.ndarray`` in a pickle: ``_reconstruct`` takes it, calling it is refused."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsafeFileError(f"{self.origin}: refused: the pickle calls numpy.ndarray directly "
                              "(numpy's own pickles never do)", self.origin)


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays, numbers, strings and containers only."""

    def __init__(self, file: io.BytesIO, origin: str) -> None:
        super().__init__(file)
        self.origin = origin
        self._array_type = _ArrayType(origin)

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype is not self._array_type:
            raise UnsafeFileError(f"{self.origin}: refused: _reconstruct of {type(subtype).__name__}", self.origin)
        try:
            nbytes = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        except (TypeError, ValueError, OverflowError):
            raise DatasetError(f"{self.origin}: malformed array in the pickle (shape {str(shape)[:40]})", self.origin) from None
        cap = PICKLE_ARRAY_BYTES.value()
        if not 0 <= nbytes <= cap:
            raise UnsafeFileError(f"{self.origin}: refused: the pickle asks for an array of {nbytes:,} bytes, more than "
                                  f"{cap:,}; raise {PICKLE_ARRAY_BYTES.env} if the file is genuine", self.origin)
        return _resolve("numpy.core.multiarray", "_reconstruct")(np.ndarray, shape, dtype)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _NUMPY_GLOBALS:
            raise UnsafeFileError(f"{self.origin}: refused: the pickle asks for {module}.{name}, "
                                  f"and only numpy arrays may be loaded from it", self.origin)
        if name == "ndarray":
            return self._array_type
        if name == "_reconstruct":
            return self._reconstruct
        return _resolve(module, name)


def _check_plain(value: Any, origin: str, depth: int = 0) -> None:
    if depth > 16:
        raise DatasetError(f"{origin}: pickle nests deeper than 16 levels", origin)
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise UnsafeFileError(f"{origin}: refused: the pickle holds an object array", origin)
    if isinstance(value, dict):
        for v in value.values():
            _check_plain(v, origin, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, origin, depth + 1)


def load_numpy_pickle(path: str | Path) -> Any:
    """The object a pickle of numpy arrays holds (bounded read; ``UnsafeFileError`` for any other global)."""
    p = Path(path)
    data = read_bounded(p, PICKLE_BYTES, "a pickled keypoint file", DatasetError)
    try:
        out = NumpyOnlyUnpickler(io.BytesIO(data), str(p)).load()
    except UnsafeFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt pickle raises anything from EOFError to TypeError
        raise DatasetError(f"{p}: not a readable pickle ({type(exc).__name__}: {str(exc)[:120]})", p) from None
    _check_plain(out, str(p))
    return out
