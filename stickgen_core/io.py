"""Safe dataset I/O: weights-only loading, atomic writes, stable clip ids.

Dataset files come from users and are untrusted: they are only ever read with
``torch.load(..., weights_only=True)``, so a pickle that would run code is refused
before any of it runs. Every write goes to a temp file in the target folder and is
moved into place with ``os.replace``, so an interrupted write leaves the old file whole.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import pickle
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import ConfigError, DatasetError, SampleValidationError, UnsafeFileError
from .limits import YAML_BYTES, check_regular_file, check_torch_expansion, parse_yaml, read_bounded
from .migrate import upgrade_samples
from .schema import SCHEMA_VERSION, Problem, validate_sample

log = logging.getLogger(__name__)

DATASET_SUFFIXES = (".pt", ".pth", ".arrow")  # .arrow: a packed dataset (``packed``)


# --------------------------------------------------------------------------- atomic writes
@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success move it over ``path`` atomically.

    On any exception the temp file is removed and ``path`` is untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise DatasetError(f"{target}: is a folder; expected a file path to write", target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the pid in the name lets clean_stale_temps tell a killed writer's leftovers from live ones
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DatasetError(f"{target}: cannot write ({exc.strerror or exc})", target) from None
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes 0600 files; a replaced file keeps its mode, a new one is readable like any other
    os.chmod(tmp_path, target.stat().st_mode & 0o777 if target.exists() else 0o644)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise DatasetError(f"{target}: cannot write ({exc.strerror or exc}); the previous file, if any, is "
                           "untouched", target) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch reports a failed write (full disk) as a RuntimeError
            raise OSError(errno.EIO, _short(str(exc))) from None


# --------------------------------------------------------------------------- YAML
def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML mapping from ``path`` (safe tags only, duplicate keys refused, size and alias
    expansion capped: see ``limits``); every failure is a ConfigError naming the file."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise ConfigError(f"{p}: no such config file")
    try:  # bounded: st_size is 0 for /dev/zero and /proc files; devices and FIFOs are refused
        text = read_bounded(p, YAML_BYTES, "a YAML config file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: cannot read config ({_short(str(exc))})") from None
    doc = parse_yaml(text, str(p))
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: expected a mapping of sections at the top level, got {type(doc).__name__}")
    return doc


# --------------------------------------------------------------------------- clip ids
def clip_id(sample: dict) -> str:
    """Stable 16-hex-digit content hash (SHA-256) of a sample's motion (float32) and description."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    motion = sample.get("motion")
    if isinstance(motion, torch.Tensor):
        data = motion.detach().to(torch.float32).contiguous().cpu().numpy()
    else:
        data = np.ascontiguousarray(np.asarray(motion, dtype=np.float32))
    h = hashlib.sha256()  # hardware-accelerated on most CPUs: about twice blake2b's speed here
    h.update(str(data.shape).encode())
    h.update(data.tobytes())
    h.update(b"\x00")
    h.update(str(sample.get("description", "")).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def clip_ids(samples: Sequence[dict]) -> list[str]:
    """``clip_id`` of many samples (measured: a thread pool is slower here, torch holds the cores)."""
    return [clip_id(s) for s in samples]


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class SkippedSample:
    """A sample left out of a load because it broke the contract."""

    file: str
    index: int
    problems: tuple[Problem, ...]

    def __str__(self) -> str:
        return f"{self.file} sample {self.index}: " + "; ".join(str(p) for p in self.problems)


@dataclass
class LoadedDataset(Sequence):
    """The valid samples of one or more files, and a report of what was skipped.

    Each sample carries ``clip_id``, ``source_file`` and ``source_index``.
    """

    samples: list[dict]
    files: list[str]
    skipped: list[SkippedSample] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):  # type: ignore[override]
        return self.samples[i]

    def __iter__(self):
        return iter(self.samples)


def dataset_files(path: str | os.PathLike) -> list[Path]:
    """The dataset files a path names: itself, the shards of a sharded packed set (in order), or the
    sorted ``.pt``/``.pth``/``.arrow`` files of a folder."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder", p)
    if p.is_dir() and (p / "index.json").is_file():
        from .packed import shard_files
        return shard_files(p)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in DATASET_SUFFIXES and f.is_file())
        if not files:
            raise DatasetError(f"{p}: folder holds no dataset files (expected *.pt or *.pth)", p)
        return files
    return [p]


def file_stamp(path: str | os.PathLike) -> tuple[int, int, int]:
    """(size, modification time in ns, inode) of a file: changes whenever the file is rewritten."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino


def load_torch_file(path: str | os.PathLike, *, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into a clear DatasetError.

    A packed dataset (``packed``: an Arrow file or a sharded folder) loads as its list of samples
    (``PackedSamples``), so every reader of dataset files accepts either form."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: no such file", p)
    from .packed import is_packed, read_samples
    if is_packed(p):
        return read_samples(p)
    check_regular_file(p, "a torch file", lambda msg: DatasetError(msg, p))  # a FIFO would hang torch.load
    if p.stat().st_size == 0:
        raise DatasetError(f"{p}: file is empty (expected a torch file written by torch.save)", p)
    with open(p, "rb") as fh:
        looks_like_zip = fh.read(4) == b"PK\x03\x04"  # torch.save's format since 1.6
    is_zip = looks_like_zip and zipfile.is_zipfile(p)
    if is_zip:
        check_torch_expansion(p)
    try:
        with warnings.catch_warnings():
            # torch warns about foreign pickle protocols before refusing them; the refusal says enough
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        global_line = _first_line_with(msg, ("GLOBAL",))
        if global_line:
            raise UnsafeFileError(
                f"{p}: refused to load: the file holds pickled code or objects that safe "
                f"(weights_only) loading does not allow ({global_line.strip()}); nothing in it was run. "
                "Re-save it with plain tensors, lists, dicts, numbers and strings.", p) from None
        reason = _first_line_with(msg, ("Unsupported operand", "Unsupported")) or "unrecognised content"
        raise DatasetError(f"{p}: not a torch file (expected a file written by torch.save; {reason.strip()})", p) from None
    except MemoryError:
        raise DatasetError(f"{p}: not enough memory to load this file", p) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError) as exc:
        msg = _short(str(exc))
        if looks_like_zip or "zip" in msg.lower() or isinstance(exc, EOFError) or "central directory" in msg:
            raise DatasetError(f"{p}: truncated or corrupt torch file ({msg})", p) from None
        raise DatasetError(f"{p}: not a torch file (expected a file written by torch.save; {msg})", p) from None


def _short(msg: str, limit: int = 200) -> str:
    line = msg.strip().splitlines()[0] if msg.strip() else "unknown error"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _first_line_with(msg: str, needles: tuple[str, ...]) -> str | None:
    for line in msg.splitlines():
        if any(n in line for n in needles):
            return _short(line)
    return None


def samples_from_object(obj: Any, path: str | os.PathLike) -> list:
    """The sample list inside a loaded dataset object, in the current schema (``migrate``),
    or a DatasetError naming the file."""
    if isinstance(obj, dict):
        if "sequences" not in obj:
            keys = ", ".join(map(str, list(obj)[:8])) or "none"
            raise DatasetError(f"{path}: expected a list of samples or a dict with key 'sequences'; got a dict with keys [{keys}]", path)
        obj = obj["sequences"]
    if not isinstance(obj, (list, tuple)):
        raise DatasetError(f"{path}: expected a list of samples or a dict with key 'sequences'; got {type(obj).__name__}", path)
    from .packed import PackedSamples
    if isinstance(obj, PackedSamples):  # keep the clip ids stored at write
        return PackedSamples(upgrade_samples(obj, path), obj.clip_ids)
    return upgrade_samples(obj, path)


def has_embeddings(path: str | os.PathLike) -> bool:
    """True when the dataset's samples carry ``embedding`` (a training file), False for a plain split."""
    obj = load_torch_file(path, mmap=True)
    if isinstance(obj, dict) and "embedding_dim" in obj:
        return True
    samples = samples_from_object(obj, path)
    return bool(samples) and isinstance(samples[0], dict) and "embedding" in samples[0]


def stored_clip_ids(samples: Sequence[dict], indices: Sequence[int]) -> list[str]:
    """The clip ids of ``samples[i]`` for ``i`` in ``indices``: the ones a packed file stored at
    write, else computed (``clip_id``)."""
    stored = getattr(samples, "clip_ids", None)
    if stored is not None:
        return [stored[i] for i in indices]
    return clip_ids([samples[i] for i in indices])


def load_dataset(
    path: str | os.PathLike,
    *,
    skip_invalid: bool = False,
    validate: bool = True,
    mmap: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedDataset:
    """Load a dataset file or a folder of them.

    Invalid samples raise SampleValidationError naming file, index and every problem,
    unless ``skip_invalid`` is set: then they are left out and listed in ``.skipped``.
    """
    files = dataset_files(path)
    samples: list[dict] = []
    skipped: list[SkippedSample] = []
    for fi, f in enumerate(files):
        raw = samples_from_object(load_torch_file(f, mmap=mmap), f)
        for i, s in enumerate(raw):
            problems = validate_sample(s) if validate else []
            if problems:
                item = SkippedSample(str(f), i, tuple(problems))
                if not skip_invalid:
                    more = sum(1 for t in raw[i + 1:] if validate_sample(t)) if len(raw) < 100_000 else 0
                    extra = f" (and {more} more invalid sample(s) after it)" if more else ""
                    raise SampleValidationError(f"{item}{extra}; `stickgen validate` lists every problem",
                                                list(problems))
                skipped.append(item)
                continue
            s = dict(s)  # never mutate the caller's (or torch's cached) objects
            s["clip_id"] = raw.clip_ids[i] if hasattr(raw, "clip_ids") else clip_id(s)
            s["source_file"] = str(f)
            s["source_index"] = i
            samples.append(s)
        if progress:
            progress(fi + 1, len(files))
    for item in skipped:
        log.warning("skipped invalid sample: %s", item)
    return LoadedDataset(samples, [str(f) for f in files], skipped)


_BOOKKEEPING_KEYS = ("clip_id", "source_file", "source_index")


def save_dataset(samples: Sequence[dict], path: str | os.PathLike, *, validate: bool = True) -> Path:
    """Write samples as a ``.pt`` list atomically; load bookkeeping keys are not stored."""
    out = []
    for i, s in enumerate(samples):
        if validate:
            problems = validate_sample(s)
            if problems:
                raise SampleValidationError(f"{path}: sample {i} is invalid: " + "; ".join(map(str, problems)), problems)
        out.append({k: v for k, v in s.items() if k not in _BOOKKEEPING_KEYS} | {"schema_version": SCHEMA_VERSION})
    atomic_torch_save(out, path)
    return Path(path)


def sample_at(path: str | os.PathLike, index: int) -> dict:
    """The sample at position ``index`` of a dataset file (positions count every sample, valid or
    not, across a folder's files in order), validated; an invalid one is an error naming it."""
    from .packed import count_clips, is_packed, locate_clip, read_clip
    if is_packed(path):  # one clip read from the map (and one shard opened), not the whole file
        f, i = locate_clip(path, index)
        s, cid = read_clip(path, index)
        s = upgrade_samples([s], f)[0]
        problems = validate_sample(s)
        if problems:
            raise SampleValidationError(f"{SkippedSample(str(f), i, tuple(problems))}", problems)
        return s | {"clip_id": cid, "source_file": str(f), "source_index": i}
    count = 0
    for f in dataset_files(path):
        if is_packed(f):  # a packed file among a folder's files: counted from its footer, not read
            n = count_clips(f)
            if 0 <= index - count < n:
                return sample_at(f, index - count)
            count += n
            continue
        raw = samples_from_object(load_torch_file(f), f)
        if 0 <= index - count < len(raw):
            i = index - count
            problems = validate_sample(raw[i])
            if problems:
                raise SampleValidationError(f"{SkippedSample(str(f), i, tuple(problems))}", problems)
            s = dict(raw[i])
            s.update(clip_id=clip_id(s), source_file=str(f), source_index=i)
            return s
        count += len(raw)
    raise DatasetError(f"{path}: --index {index} is out of range (the dataset holds {count} sample(s), "
                       f"valid or not; positions start at 0)", path)
