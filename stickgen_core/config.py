"""Model/training configs: YAML with ``extends:``, typed sections, CLI > env > YAML precedence.

Every key is checked: an unknown key or a value of the wrong type is a ConfigError that
names the file and the key path (``training.learning_rate``), never a crash later on.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .curation.config import CurationConfig
from .errors import ConfigError
from .config_files import ConfigLayer, merge_sections, read_config_dict, read_config_layers  # noqa: F401 (re-exported)
from .io import read_yaml
from .limits import brief
from .schema import NUM_ACTIONS

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    ffn_dim: int = 683            # SwiGLU hidden size (~ 8/3 d_model keeps parameters of a 4x MLP)
    dropout: float = 0.1
    max_frames: int = 512
    motion_dim: int = 48
    embedding_dim: int | str = "auto"  # "auto": follow the text encoder's dimension
    num_actions: int = 64            # action slots; the vocabulary (schema.ACTIONS) must fit
    physics_dim: int = 6
    camera_dim: int = 3
    action_conditioning: bool = True
    camera_conditioning: bool = True
    rope_base: float = 10000.0
    # issue 14 (defaults reproduce the models trained before it)
    text_conditioning: str = "prefix"   # "prefix": one text token; "adaln": also scale/shift every block's norms
    root_relative: bool = False         # inputs see poses relative to the pelvis x plus its velocity
    time_conditioning: bool = False     # tokens carry the elapsed share of the requested clip
    keep_bone_lengths: bool = False     # generation rebuilds each pose with the model's bone lengths, on the ground
    # with keep_bone_lengths, the least share of its length a bone may show (a 2-D view foreshortens a limb
    # turned towards the camera): 0 keeps the per-bone floors of model/constraints.py, 1 makes every bone rigid
    min_bone_share: float = 0.0
    # issue 29: an image encoder whose features (and camera) are added to the text conditioning
    image_encoder_arch: str = "cnn"     # "cnn" (small CNN) or "resnet18" (needs torchvision)
    image_conditioning: bool = False    # set by training from data.use_parallax_augmentation; a checkpoint keeps it


PRECISIONS = ("auto", "float32", "bfloat16")
REPORT_TO = ("tensorboard", "wandb", "mlflow")  # experiment trackers metrics also go to (train/reporters.py)


@dataclass
class TrainingConfig:
    stage: str = "pretrain"
    epochs: int = 10
    batch_size: int = 8
    grad_accum_steps: int = 1
    learning_rate: float = 3e-4
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    warmup_steps: int = 100
    warmup_epochs: float | None = None  # the reference's unit; when set it wins over warmup_steps
    min_lr_ratio: float = 0.1
    max_grad_norm: float = 1.0
    val_fraction: float = 0.1
    max_frames: int = 250
    seed: int = 42
    log_interval: int = 10
    device: str = "auto"
    resume_from: str | None = None
    init_from: str | None = None
    text_dropout: float = 0.0           # share of clips trained without text (classifier-free guidance)
    input_noise: float = 0.0            # metres of Gaussian noise on input frames (exposure bias)
    scheduled_sampling: float = 0.0     # share of input frames replaced by the model's own prediction
    action_plan: bool = True            # fit a text -> action plan with the model (action-conditioned models)
    precision: str = "auto"             # auto: bfloat16 autocast on CUDA, float32 on CPU; or float32 / bfloat16
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])  # of REPORT_TO; [] for none


@dataclass
class LossWeights:
    pose: float = 1.0
    temporal: float = 0.5
    action: float = 0.5
    physics: float = 0.1
    diffusion: float = 0.0
    attachment: float = 0.0  # shoulders to the neck, hips to the pelvis, as the ground truth has them (issue 32)


@dataclass
class DiffusionConfig:
    """The refinement module (spec §5, ``model/refiner.py``); off by default (the transformer alone)."""

    enabled: bool = False
    learning_rate: float = 1e-4      # its own learning rate (the transformer keeps training.learning_rate)
    timesteps: int = 100             # diffusion steps the denoiser is trained over
    sampling_steps: int = 4          # DDIM steps at generation (<= timesteps)
    sampling_noise: float = 0.0      # size of the starting noise: 1 = a sample, 0 = the mean path (steadiest)
    schedule: str = "cosine"         # "cosine" or "linear" noise schedule
    window: int = 64                 # frames the denoiser sees at once; longer clips use overlapping windows
    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    scale: float = 0.05              # metres of correction that count as 1 for the denoiser
    coarse_noise: float = 0.02       # up to this many metres of noise on the coarse motion in training
    freeze_transformer: bool = False  # second stage: train only the refiner on a transformer from init_from


@dataclass
class LoraConfig:
    enabled: bool = False
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["blocks", "pose_head"])


@dataclass
class DataConfig:
    train_data: str | None = None
    curated_pretrain_data: str | None = "data/curated/pretrain_data_embedded.pt"
    curated_sft_data: str | None = "data/curated/sft_data_embedded.pt"
    use_parallax_augmentation: bool = False
    parallax_root: str | None = None
    parallax_image_size: int = 256
    # image conditioning (issue 29, stickgen_core/parallax): which rendered frames a clip is paired with
    use_parallax_sequences: bool = False   # MultimodalParallaxDataset yields frame windows, not single frames
    parallax_sequence_length: int = 4      # images per window
    parallax_sequence_stride: int = 1      # a window starts every this many rendered steps
    parallax_conditioning_mode: str = "first_frame"  # "first_frame": one image; "sequence": a window of them


@dataclass
class EmbeddingConfig:
    model: str = "all-MiniLM-L6-v2"   # the packaged offline default; any sentence-transformers name or path
    batch_size: int = 64
    normalize: bool = True
    cache_dir: str | None = None


@dataclass
class StickGenConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    loss_weights: LossWeights = field(default_factory=LossWeights)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    data_curation: CurationConfig = field(default_factory=CurationConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_curation"] = self.data_curation.to_dict()
        return out


# --------------------------------------------------------------------------- typed parsing
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in typing.get_args(tp))}, "
                          f"got {type(value).__name__} {brief(value)}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {brief(value)}")
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {type(value).__name__} {brief(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {type(value).__name__} {brief(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {brief(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {type(value).__name__} {brief(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _build(cls: type, data: Any, where: str) -> Any:
    if cls is CurationConfig:
        return CurationConfig.from_dict(data, where=where)
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{_join(where, str(key)[:60])}: unknown key (known: {', '.join(sorted(known))})")
    return cls(**{k: _coerce(v, hints[k], _join(where, k)) for k, v in data.items()})


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> StickGenConfig:
    """A typed config from YAML (``extends:`` followed) with optional section overrides."""
    data = read_config_dict(path) if path else {}
    if overrides:
        data = merge_sections(data, dict(overrides))
    try:
        cfg: StickGenConfig = _build(StickGenConfig, data, "")
        _check(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from None
    return cfg


def _check(cfg: StickGenConfig) -> None:
    """Rules that involve more than one key."""
    if cfg.training.stage not in ("pretrain", "sft"):
        raise ConfigError(f"training.stage: expected 'pretrain' or 'sft', got {brief(cfg.training.stage)}")
    if isinstance(cfg.model.embedding_dim, str) and cfg.model.embedding_dim != "auto":
        raise ConfigError(f"model.embedding_dim: expected a whole number or 'auto', got {brief(cfg.model.embedding_dim)}")
    check_ranges(cfg)
    if cfg.model.d_model % cfg.model.n_heads or (cfg.model.d_model // cfg.model.n_heads) % 2:
        raise ConfigError(f"model.d_model: {cfg.model.d_model} must split into {cfg.model.n_heads} heads of even size")
    if cfg.model.text_conditioning not in ("prefix", "adaln"):
        raise ConfigError(f"model.text_conditioning: expected 'prefix' or 'adaln', got {cfg.model.text_conditioning!r}")
    for name in ("text_dropout", "scheduled_sampling"):
        if not 0.0 <= getattr(cfg.training, name) < 1.0:
            raise ConfigError(f"training.{name}: expected a share in [0, 1), got {getattr(cfg.training, name)}")
    if cfg.training.precision not in PRECISIONS:
        raise ConfigError(f"training.precision: expected one of {', '.join(PRECISIONS)}, got {brief(cfg.training.precision)}")
    for i, name in enumerate(cfg.training.report_to):
        if name not in REPORT_TO:
            raise ConfigError(f"training.report_to[{i}]: unknown tracker {brief(name)}; expected any of "
                              f"{', '.join(REPORT_TO)}")
    if cfg.training.input_noise < 0:
        raise ConfigError(f"training.input_noise: expected metres >= 0, got {cfg.training.input_noise}")
    if cfg.model.num_actions < NUM_ACTIONS:
        raise ConfigError(f"model.num_actions: expected at least {NUM_ACTIONS} (the action vocabulary), "
                          f"got {cfg.model.num_actions}")
    check_diffusion(cfg)
    for name in ("epochs", "batch_size", "grad_accum_steps", "max_frames"):
        if getattr(cfg.training, name) < 1:
            raise ConfigError(f"training.{name}: expected at least 1, got {getattr(cfg.training, name)}")


def check_diffusion(cfg: StickGenConfig) -> None:
    """The diffusion section agrees with itself and with ``loss_weights.diffusion``."""
    d = cfg.diffusion
    if d.schedule not in ("cosine", "linear"):
        raise ConfigError(f"diffusion.schedule: expected 'cosine' or 'linear', got {brief(d.schedule)}")
    if d.sampling_steps > d.timesteps:
        raise ConfigError(f"diffusion.sampling_steps: expected at most diffusion.timesteps ({d.timesteps}), "
                          f"got {d.sampling_steps}")
    if d.d_model % d.n_heads:
        raise ConfigError(f"diffusion.d_model: {d.d_model} must split into {d.n_heads} heads (diffusion.n_heads)")
    if d.d_model % 2:
        raise ConfigError(f"diffusion.d_model: expected an even number, got {d.d_model}")
    if d.enabled and cfg.loss_weights.diffusion <= 0:
        raise ConfigError("loss_weights.diffusion: expected > 0 with diffusion.enabled: true (the refiner learns "
                          "only from that term), got 0")
    if not d.enabled and cfg.loss_weights.diffusion > 0:
        raise ConfigError(f"diffusion.enabled: false but loss_weights.diffusion is {cfg.loss_weights.diffusion}; "
                          "set diffusion.enabled: true or the weight to 0.0")
    if d.freeze_transformer and not d.enabled:
        raise ConfigError("diffusion.freeze_transformer: true needs diffusion.enabled: true")


#: (section, key, low, high, low inclusive, high inclusive): every number must lie in its range (NaN never does)
RANGES: tuple[tuple[str, str, float, float, bool, bool], ...] = (
    ("model", "d_model", 1, 1 << 16, True, True), ("model", "n_layers", 1, 512, True, True),
    ("model", "n_heads", 1, 1024, True, True), ("model", "ffn_dim", 1, 1 << 18, True, True),
    ("model", "dropout", 0, 1, True, False), ("model", "max_frames", 1, 1 << 20, True, True),
    ("model", "num_actions", 1, 1 << 16, True, True), ("model", "rope_base", 0, math.inf, False, False),
    ("model", "min_bone_share", 0, 1, True, True),
    ("training", "learning_rate", 0, 10, False, True), ("training", "weight_decay", 0, 10, True, True),
    ("training", "eps", 0, 1, False, True), ("training", "warmup_steps", 0, math.inf, True, False),
    ("training", "min_lr_ratio", 0, 1, True, True), ("training", "max_grad_norm", 0, math.inf, False, False),
    ("training", "val_fraction", 0, 1, True, False), ("training", "log_interval", 1, math.inf, True, False),
    ("loss_weights", "pose", 0, 1e6, True, True), ("loss_weights", "temporal", 0, 1e6, True, True),
    ("loss_weights", "action", 0, 1e6, True, True), ("loss_weights", "physics", 0, 1e6, True, True),
    ("loss_weights", "diffusion", 0, 1e6, True, True), ("loss_weights", "attachment", 0, 1e6, True, True),
    ("diffusion", "learning_rate", 0, 10, False, True), ("diffusion", "timesteps", 1, 100_000, True, True),
    ("diffusion", "sampling_steps", 1, 100_000, True, True), ("diffusion", "window", 2, 1 << 16, True, True),
    ("diffusion", "d_model", 2, 1 << 16, True, True), ("diffusion", "n_layers", 1, 512, True, True),
    ("diffusion", "n_heads", 1, 1024, True, True), ("diffusion", "scale", 0, 100, False, True),
    ("diffusion", "coarse_noise", 0, 10, True, True), ("diffusion", "sampling_noise", 0, 10, True, True),
    ("lora", "rank", 1, 4096, True, True), ("lora", "alpha", 0, math.inf, False, False),
    ("lora", "dropout", 0, 1, True, False), ("embedding", "batch_size", 1, 1 << 16, True, True),
)


def check_ranges(cfg: StickGenConfig) -> None:
    """Every numeric key within its range, betas in [0, 1), LoRA target patterns valid regexes."""
    for section, key, lo, hi, lo_in, hi_in in RANGES:
        v = getattr(getattr(cfg, section), key)
        ok = (lo <= v if lo_in else lo < v) and (v <= hi if hi_in else v < hi)
        if not ok:
            span = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
            raise ConfigError(f"{section}.{key}: expected a value in {span}, got {brief(v)}")
    betas = cfg.training.betas
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ConfigError(f"training.betas: expected two numbers in [0, 1), got {brief(betas)}")
    for i, pattern in enumerate(cfg.lora.target_modules):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"lora.target_modules[{i}]: {brief(pattern)} is not a valid regular expression ({exc})") from None


# --------------------------------------------------------------------------- precedence
@dataclass(frozen=True)
class Setting:
    value: str | None
    origin: str  # "cli", "env", "config" or "unset"


def pick(cli: str | None, env_name: str, config_value: str | None, env: Mapping[str, str] | None = None) -> Setting:
    """CLI flag, else environment variable, else config value (the spec's precedence)."""
    env = os.environ if env is None else env
    if cli:
        return Setting(cli, "cli")
    if env.get(env_name):
        return Setting(env[env_name], "env")
    if config_value:
        return Setting(config_value, "config")
    return Setting(None, "unset")


@dataclass(frozen=True)
class RunSources:
    data_path: Setting
    resume_from: Setting
    init_from: Setting
    init_ignored: bool


def resolve_sources(cfg: StickGenConfig, data_path: str | None = None, resume_from: str | None = None,
                    init_from: str | None = None, env: Mapping[str, str] | None = None) -> RunSources:
    """Where the data and the starting checkpoint come from.

    resume_from wins over init_from when both are set; the caller logs that init_from was ignored.
    """
    # the config's own data: an explicit train_data, else the curated split of this stage
    curated = cfg.data.curated_sft_data if cfg.training.stage == "sft" else cfg.data.curated_pretrain_data
    data = pick(data_path, "TRAIN_DATA_PATH", cfg.data.train_data or curated, env)
    resume = pick(resume_from, "RESUME_FROM_CHECKPOINT", cfg.training.resume_from, env)
    init = pick(init_from, "INIT_FROM_CHECKPOINT", cfg.training.init_from, env)
    ignored = resume.value is not None and init.value is not None
    if ignored:
        init = Setting(None, f"ignored ({init.origin}: {init.value})")
    return RunSources(data, resume, init, ignored)


def base_config_path(path: str | Path) -> Path | None:
    """The file ``path`` extends (its ``extends:``), or None for a config that extends nothing."""
    p = Path(path).resolve()
    parent = read_yaml(p).get("extends")
    return p.parent / parent if isinstance(parent, str) else None


def flatten_config(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"training": {"epochs": 3}}`` -> ``{"training.epochs": 3}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


def config_diff(base: Mapping[str, Any], other: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, base value, other value) for every key whose value differs, in key order."""
    a, b = flatten_config(base), flatten_config(other)
    missing = object()
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if a.get(k, missing) != b.get(k, missing)]
