"""``CurationConfig``: every threshold of the curation policy, validated, YAML round trip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


from ..errors import ConfigError
from ..curation_fields import EXPORT_ONLY_FIELDS, FIELD_HELP  # noqa: F401 (re-exported)
from ..config_files import read_config_dict  # follows ``extends:``
from ..io import atomic_write_text, read_yaml
from ..limits import brief

SECTION = "data_curation"


def _default_source_weights() -> dict[str, float]:
    # How much a source's realism score counts in its quality: trusted capture less,
    # procedural data fully.
    return {"mocap": 0.5, "mocap_like": 0.6, "video_estimate": 0.8, "synthetic": 1.0}


@dataclass
class CurationConfig:
    """Thresholds and balancing of the pretrain/SFT split (names as the reference policy)."""

    min_quality_pretrain: float = 0.5
    min_quality_sft: float = 0.8
    min_camera_stability_sft: float = 0.6
    min_realism_pretrain: float = 0.3
    min_realism_sft: float = 0.6
    max_artifact_score: float = 0.5
    min_frames: int = 25
    max_frames: int = 500
    balance_max_fraction: float = 0.3
    balance_by_source: bool = True
    max_source_fraction: float = 0.4
    synthetic_quality_penalty: float = 0.1
    prefer_mocap: bool = True
    source_weights: dict[str, float] = field(default_factory=_default_source_weights)
    default_source_weight: float = 1.0
    synthetic_sources: tuple[str, ...] = ("synthetic",)
    mocap_sources: tuple[str, ...] = ("mocap", "mocap_like")
    normalize_height: bool = False
    target_height: float = 1.75
    smooth: bool = False
    smooth_sigma: float = 1.0
    seed: int = 42

    def __post_init__(self) -> None:
        unit = ("min_quality_pretrain", "min_quality_sft", "min_camera_stability_sft", "min_realism_pretrain",
                "min_realism_sft", "max_artifact_score", "synthetic_quality_penalty", "default_source_weight")
        for name in unit:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
                raise ConfigError(f"{SECTION}.{name}: expected a number in [0, 1], got {brief(v)}")
            setattr(self, name, float(v))
        for name in ("balance_max_fraction", "max_source_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) <= 1.0:
                raise ConfigError(f"{SECTION}.{name}: expected a fraction in (0, 1], got {brief(v)}")
            setattr(self, name, float(v))
        for name in ("min_frames", "max_frames", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or (name != "seed" and v < 1):
                raise ConfigError(f"{SECTION}.{name}: expected a positive whole number, got {brief(v)}")
        if self.min_frames > self.max_frames:
            raise ConfigError(f"{SECTION}.min_frames: {self.min_frames} is above max_frames {self.max_frames}")
        for name in ("balance_by_source", "prefer_mocap", "normalize_height", "smooth"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{SECTION}.{name}: expected true or false, got {brief(getattr(self, name))}")
        if not isinstance(self.source_weights, dict):
            raise ConfigError(f"{SECTION}.source_weights: expected a mapping source -> weight, got {brief(self.source_weights)}")
        for k, v in self.source_weights.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= float(v) <= 1.0:
                raise ConfigError(f"{SECTION}.source_weights.{str(k)[:60]}: expected a number in [0, 1], got {brief(v)}")
        self.source_weights = {str(k): float(v) for k, v in self.source_weights.items()}
        for name in ("synthetic_sources", "mocap_sources"):
            v = getattr(self, name)
            if isinstance(v, str) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"{SECTION}.{name}: expected a list of source names, got {brief(v)}")
            setattr(self, name, tuple(v))
        for name in ("target_height", "smooth_sigma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v) > 0:
                raise ConfigError(f"{SECTION}.{name}: expected a positive number, got {brief(v)}")
            setattr(self, name, float(v))

    # ------------------------------------------------------------------ dict / YAML
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, data: Any, where: str = SECTION) -> "CurationConfig":
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping of thresholds, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(map(str, data)) - known)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0][:60]}: unknown key (known keys: {', '.join(sorted(known))})")
        return cls(**data)  # __post_init__ names the failing key as data_curation.<key>

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CurationConfig":
        """The ``data_curation`` section of a config file (defaults when absent)."""
        doc = read_config_dict(path)
        try:
            return cls.from_dict(doc.get(SECTION))
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def save_to_yaml(self, path: str | Path) -> Path:
        """Write this config as the ``data_curation`` section of ``path``, keeping the file's other
        sections, its comments and key order (round-trip YAML; still only plain data is read)."""
        from io import StringIO

        from ruamel.yaml import YAML, YAMLError

        p = Path(path)
        rt = YAML(typ="rt")  # round-trip: comments kept; builds only plain mappings, lists and scalars
        rt.preserve_quotes = True
        doc = None
        if p.exists():
            read_yaml(p)  # the safe reader validates the file first (and names it on failure)
            try:
                doc = rt.load(p.read_text(encoding="utf-8"))
            except YAMLError as exc:
                raise ConfigError(f"{p}: not valid YAML ({str(exc)[:120]})") from None
        if doc is None:
            doc = {}
        new = self.to_dict()
        if isinstance(doc.get(SECTION), dict):
            section = doc[SECTION]
            for k in list(section):
                if k not in new:
                    del section[k]
            for k, v in new.items():
                section[k] = v
        else:
            doc[SECTION] = new
        out = StringIO()
        rt.dump(doc, out)
        atomic_write_text(p, out.getvalue())
        return p
