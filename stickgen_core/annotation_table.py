"""The annotation table's settings and columns, shared by the per-clip path (``annotate``) and the
columnar one (``annotate_packed``): identity fields of a clip, and the metric, length and scale
columns added to them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .metrics import MetricThresholds
from .schema import ACTIONS, FPS_DEFAULT

ANNOTATION_VERSION = 6  # bump when metric definitions change: old caches are then ignored
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AnnotateOptions:
    """Settings that change the numbers (and so the cache key).

    ``ground``: "auto" (estimated from the resting feet of each clip; y = 0 when the
    estimate agrees within ``metrics.AUTO_GROUND_TOLERANCE``), "zero" (always y = 0) or
    "estimate" (always the estimate). Metrics are of each clip without its trailing padding,
    at metre scale (``clip_prep``); ``n_frames`` is that length, ``padded_frames`` what was
    left out, ``figure_height`` and ``ground_y`` are in the clip's own units.
    """

    ground: str = "auto"
    thresholds: MetricThresholds = field(default_factory=MetricThresholds)
    chunk_frames: int = 50_000  # frames per batch: its arrays stay in cache (measured ~20 % faster than 400k)

    def __post_init__(self) -> None:
        if self.ground not in ("auto", "zero", "estimate"):
            from .errors import ConfigError
            raise ConfigError(f"ground: expected 'auto', 'zero' or 'estimate', got {self.ground!r}")

    def key(self) -> str:
        d = asdict(self)
        d.pop("chunk_frames")
        d["version"] = ANNOTATION_VERSION
        return hashlib.blake2b(json.dumps(d, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()


def _text(value: object) -> str:
    """``value`` as text a parquet file can hold (lone surrogates replaced; the sample is refused elsewhere)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _base_quality(sample: dict) -> float:
    """The sample's own quality: ``quality_score``, else ``annotations['quality_score']``, else NaN."""
    for holder in (sample, sample.get("annotations") if isinstance(sample.get("annotations"), dict) else None):
        if holder is not None and holder.get("quality_score") is not None:
            try:
                return float(np.clip(float(holder["quality_score"]), 0.0, 1.0))
            except (TypeError, ValueError):
                return float("nan")
    return float("nan")


def identity_table(ident: dict[str, list], ids: dict[int, str], file: str) -> pd.DataFrame:
    """The identity columns: ``ident``'s lists, the clip ids of the valid rows (``ids``), the file."""
    n = len(ident["index"])
    ident = dict(ident, clip_id=[ids.get(i, f"invalid-{i}") for i in range(n)], valid=[i in ids for i in range(n)])
    table = pd.DataFrame(ident)
    table = table[["clip_id"] + [c for c in table.columns if c != "clip_id"]]
    table.insert(1, "file", file)
    return table


def add_ident(ident: dict[str, list], i: int, s: object, problems: list) -> None:
    """Append sample ``i``'s identity fields (``ident``'s lists) as the table shows them."""
    d = s if isinstance(s, dict) else {}
    meta = d.get("meta") if isinstance(d.get("meta"), dict) else {}
    ident["index"].append(i)
    ident["source"].append(_text(d.get("source") or "unknown"))
    ident["description"].append(_text(d.get("description", "")))
    ident["fps"].append(float(d.get("fps") or meta.get("fps") or FPS_DEFAULT) if not problems else FPS_DEFAULT)
    ident["base_quality"].append(_base_quality(d))
    ident["problems"].append(_text("; ".join(map(str, problems))))
    defects = meta.get("injected_defects") if not problems else None
    ident["injected"].append(",".join(sorted({str(r.get("type")) for r in defects or []})))


def finish_table(table: pd.DataFrame, valid_idx: Sequence[int], metric_cols: dict[str, np.ndarray], total: np.ndarray,
                 kept_len: np.ndarray, heights: np.ndarray, scale: np.ndarray) -> pd.DataFrame:
    """The metric columns (values of the ``valid_idx`` rows) and the length, scale and category
    columns added to an identity ``table``."""
    n = len(table)
    for name, col in metric_cols.items():
        full = np.full(n, np.nan)
        full[valid_idx] = col
        table[name] = full
    n_frames = total.copy()
    n_frames[valid_idx] = kept_len
    table["n_frames"] = n_frames
    table["padded_frames"] = total - n_frames
    for name, vals in (("figure_height", heights), ("metric_scale", scale)):
        col = np.full(n, np.nan)
        col[valid_idx] = vals
        table[name] = col
    if "ground_y" in table:  # back to the clip's own units, where export and the player use it
        table["ground_y"] = table["ground_y"] / table["metric_scale"]
    dom = table.get("dominant_action", pd.Series(np.nan, index=table.index))
    table["dominant_action"] = pd.Categorical([ACTIONS[int(a)] if a == a else "unknown" for a in dom])
    table["source"] = table["source"].astype("category")
    # a numeric form of the id: balancing breaks ties with it on every slider move
    table["clip_key"] = pd.util.hash_pandas_object(table["clip_id"], index=False).to_numpy().view(np.int64)
    return table
