"""``CurationConfig``: every threshold of the curation policy, validated, YAML round trip."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from ..config_fields import check_fields, help_of, setting
from ..config_files import read_config_dict  # follows ``extends:``
from ..errors import ConfigError
from ..io import atomic_write_text, read_yaml

SECTION = "data_curation"


def _default_source_weights() -> dict[str, float]:
    # How much a source's realism score counts in its quality: trusted capture less,
    # procedural data fully.
    return {"mocap": 0.5, "mocap_like": 0.6, "video_estimate": 0.8, "synthetic": 1.0}


def _share(default: float, help: str) -> Any:
    return setting(default, help=help, ge=0, le=1)


@dataclass
class CurationConfig:
    """Thresholds and balancing of the pretrain/SFT split (names as the reference policy)."""

    SECTION: ClassVar[str] = SECTION

    min_quality_pretrain: float = _share(0.5, "A clip reaches pretraining only if its combined quality is at least "
                                              "this.")
    min_quality_sft: float = _share(0.8, "A pretraining clip reaches SFT only if its quality is at least this.")
    min_camera_stability_sft: float = _share(0.6, "SFT keeps only clips whose camera stability (1 = still camera) "
                                                  "is at least this.")
    min_realism_pretrain: float = _share(0.3, "Pretraining drops clips whose realism (ground penetration, "
                                              "superhuman speed or acceleration, stretching limbs; 1 = plausible) "
                                              "is below this.")
    min_realism_sft: float = _share(0.6, "SFT drops pretraining clips whose realism is below this.")
    max_artifact_score: float = _share(0.5, "Pretraining drops clips whose artifact score (jitter, frozen frames, "
                                            "foot sliding, velocity explosions; 0 = clean) is above this.")
    min_frames: int = setting(25, help="Clips shorter than this many frames are dropped (25 frames = 1 s).", ge=1)
    max_frames: int = setting(500, help="Clips longer than this many frames are dropped.", ge=1)
    balance_max_fraction: float = setting(0.3, help="In the SFT split no action may exceed this share (clips of "
                                                    "over-represented actions are left out, best quality kept).",
                                          gt=0, le=1)
    balance_by_source: bool = setting(True, help="Also cap each source's share of the SFT split at the max share "
                                                 "per source.")
    max_source_fraction: float = setting(0.4, help="In the SFT split no source may exceed this share (when "
                                                   "balancing by source).", gt=0, le=1)
    synthetic_quality_penalty: float = _share(0.1, "Quality of clips from synthetic sources is multiplied by "
                                                   "(1 - this).")
    prefer_mocap: bool = setting(True, help="When balancing, keep mocap clips before others of equal quality.")
    source_weights: dict[str, float] = setting(default_factory=_default_source_weights, ge=0, le=1,
                                               help="How much each source's realism counts in its quality "
                                                    "(0 = ignored, 1 = fully).")
    default_source_weight: float = _share(1.0, "Realism weight of sources not listed in the source weights.")
    synthetic_sources: tuple[str, ...] = setting(("synthetic",), help="Source names treated as synthetic (they get "
                                                                      "the synthetic quality penalty).")
    mocap_sources: tuple[str, ...] = setting(("mocap", "mocap_like"), help="Source names treated as motion capture "
                                                                           "(preferred when balancing).")
    normalize_height: bool = setting(False, help="Export only: scale every exported clip to the target height. "
                                                 "Does not change the counts.")
    target_height: float = setting(1.75, help="Export only: figure height in metres after normalisation. Does not "
                                              "change the counts.", gt=0)
    smooth: bool = setting(False, help="Export only: smooth exported motion in time. Does not change the counts.")
    smooth_sigma: float = setting(1.0, help="Export only: Gaussian smoothing width in frames. Does not change the "
                                            "counts.", gt=0)
    seed: int = setting(42, help="Random seed of the balancing tie-breaks (same seed, same splits).")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.min_frames > self.max_frames:
            raise ConfigError(f"{SECTION}.min_frames: {self.min_frames} is above max_frames {self.max_frames}")

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


#: What each field does, in words (the studio's tooltips and ``stickgen curate --help``): the fields' own help.
FIELD_HELP: dict[str, str] = {f.name: help_of(CurationConfig, f.name) for f in fields(CurationConfig)}
#: Settings that only shape the exported files, never which clips are kept.
EXPORT_ONLY_FIELDS = ("normalize_height", "target_height", "smooth", "smooth_sigma")
