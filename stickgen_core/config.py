"""Model/training configs: YAML with ``extends:``, typed sections, CLI > env > YAML precedence.

Every key is checked: an unknown key or a value of the wrong type or range is a ConfigError
that names the file and the key path (``training.learning_rate``), never a crash later on.
Each key's help, range and choices sit beside it (``config_fields.setting``); each section
checks itself when it is made.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

from .curation.config import CurationConfig
from .errors import ConfigError
from .config_fields import check_fields, setting
from .config_files import ConfigLayer, merge_sections, read_config_dict, read_config_layers  # noqa: F401 (re-exported)
from .io import read_yaml
from .limits import brief
from .schema import NUM_ACTIONS

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    SECTION: ClassVar[str] = "model"

    d_model: int = setting(256, help="Width of the transformer: the size of every token's vector.", ge=1, le=1 << 16)
    n_layers: int = setting(6, help="Transformer blocks.", ge=1, le=512)
    n_heads: int = setting(8, help="Attention heads per block; d_model must split into heads of even size.",
                           ge=1, le=1024)
    ffn_dim: int = setting(683, help="Hidden size of each block's SwiGLU feed-forward layer (about 8/3 × d_model "
                                     "keeps the parameters of a 4× MLP).", ge=1, le=1 << 18)
    dropout: float = setting(0.1, help="Dropout inside the transformer.", ge=0, lt=1)
    max_frames: int = setting(512, help="Longest clip the model's positions cover, in frames.", ge=1, le=1 << 20)
    motion_dim: int = setting(48, help="Numbers per frame of motion (12 segments × 2 ends × x, y).", ge=1)
    embedding_dim: int | Literal["auto"] = setting("auto", help="Size of the text embedding the model reads; auto "
                                                   "follows the text encoder.", ge=1)
    num_actions: int = setting(64, help="Action slots; the action vocabulary must fit.", ge=NUM_ACTIONS, le=1 << 16,
                               why=f"the action vocabulary has {NUM_ACTIONS} actions")
    physics_dim: int = setting(6, help="Numbers per frame of physics (velocity, acceleration, momentum).", ge=1)
    camera_dim: int = setting(3, help="Numbers per frame of camera (x, y, zoom).", ge=1)
    action_conditioning: bool = setting(True, help="Tokens carry the clip's action labels.")
    camera_conditioning: bool = setting(True, help="Tokens carry the camera's position and zoom.")
    rope_base: float = setting(10000.0, help="Base of the rotary position encoding's frequencies.", gt=0)
    # defaults reproduce the models trained before these options existed
    text_conditioning: Literal["prefix", "adaln"] = setting(
        "prefix", help="prefix: the text is one token before the motion; adaln: it also scales and shifts "
                       "every block's norms.")
    root_relative: bool = setting(False, help="Inputs see poses relative to the pelvis, plus its velocity.")
    time_conditioning: bool = setting(False, help="Tokens carry the elapsed share of the requested clip.")
    keep_bone_lengths: bool = setting(False, help="Generation rebuilds each pose with the model's bone lengths, "
                                                  "standing on the ground.")
    min_bone_share: float = setting(
        0.0, help="With keep_bone_lengths, the least share of its length a bone may show (a 2-D view foreshortens "
                  "a limb turned towards the camera): 0 keeps the per-bone floors, 1 makes every bone rigid.",
        ge=0, le=1)
    image_encoder_arch: Literal["cnn", "cnn_spatial", "resnet18"] = setting(
        "cnn", help="Image encoder of image conditioning: a small CNN (one average of its last map), cnn_spatial "
                    "(the map kept as an 8x8 grid: where the limbs are), or resnet18 (needs torchvision).")
    image_conditioning: bool = setting(False, help="Set by training from data.use_parallax_augmentation; a "
                                                   "checkpoint keeps it.")
    image_fusion: Literal["add", "prefix"] = setting(
        "add", help="How the image joins the text: add (to the text's conditioning, every block) or prefix (one "
                    "more token before the text; the blocks' scales and shifts stay the text's).")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ConfigError(f"model.d_model: {self.d_model} must split into {self.n_heads} heads of even size")


Precision = Literal["auto", "float32", "bfloat16"]
Tracker = Literal["tensorboard", "wandb", "mlflow"]  # experiment trackers metrics also go to (train/reporters.py)
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)
REPORT_TO: tuple[str, ...] = typing.get_args(Tracker)


@dataclass
class TrainingConfig:
    SECTION: ClassVar[str] = "training"

    stage: Literal["pretrain", "sft"] = setting("pretrain", help="pretrain: learn motion from the large split; "
                                                                 "sft: fine-tune on the curated SFT split.")
    epochs: int = setting(10, help="Passes over the training data.", ge=1)
    batch_size: int = setting(8, help="Clips per batch (per GPU when several train together).", ge=1)
    grad_accum_steps: int = setting(1, help="Batches whose gradients add up before each optimizer step.", ge=1)
    learning_rate: float = setting(3e-4, help="Peak learning rate of AdamW (after warm-up; it then decays to "
                                              "min_lr_ratio of this).", gt=0, le=10)
    weight_decay: float = setting(0.01, help="AdamW weight decay.", ge=0, le=10)
    betas: list[float] = setting(default_factory=lambda: [0.9, 0.95], help="AdamW's two moment decay rates.",
                                 ge=0, lt=1)
    eps: float = setting(1e-8, help="AdamW's epsilon (the floor of its denominator).", gt=0, le=1)
    warmup_steps: int = setting(100, help="Optimizer steps of linear learning-rate warm-up.", ge=0)
    warmup_epochs: float | None = setting(None, help="Warm-up in epochs (the reference's unit); when set it wins "
                                                     "over warmup_steps.", ge=0)
    min_lr_ratio: float = setting(0.1, help="The learning rate decays to this share of its peak.", ge=0, le=1)
    max_grad_norm: float = setting(1.0, help="Gradients are clipped to this norm.", gt=0)
    val_fraction: float = setting(0.1, help="Share of clips held out for validation.", ge=0, lt=1)
    max_frames: int = setting(250, help="Clips are cut to at most this many frames in training.", ge=1)
    seed: int = setting(42, help="Random seed of initialisation, shuffling and the validation split.")
    log_interval: int = setting(10, help="Log the loss every this many steps.", ge=1)
    device: str = setting("auto", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:1, ...")
    resume_from: str | None = setting(None, help="Continue a run from this checkpoint: weights, optimizer, "
                                                 "schedule and epoch.")
    init_from: str | None = setting(None, help="Start from these weights only (an SFT warm start); the optimizer "
                                               "and schedule start fresh.")
    text_dropout: float = setting(0.0, help="Share of clips trained without text (classifier-free guidance).",
                                  ge=0, lt=1)
    input_noise: float = setting(0.0, help="Metres of Gaussian noise on input frames (against exposure bias).", ge=0)
    scheduled_sampling: float = setting(0.0, help="Share of input frames replaced by the model's own prediction.",
                                        ge=0, lt=1)
    action_plan: bool = setting(True, help="Fit a text -> action plan with the model (action-conditioned models).")
    precision: Precision = setting("auto", help="auto: bfloat16 autocast on CUDA, float32 on CPU; or float32 / "
                                                "bfloat16.")
    report_to: list[Tracker] = setting(default_factory=lambda: ["tensorboard"],
                                       help="Experiment trackers the metrics also go to; [] for none.")

    def __post_init__(self) -> None:
        check_fields(self)
        if len(self.betas) != 2:
            raise ConfigError(f"training.betas: expected two numbers in [0, 1), got {brief(self.betas)}")


def _weight(default: float, help: str) -> Any:
    return setting(default, help=help, ge=0, le=1e6)


@dataclass
class LossWeights:
    SECTION: ClassVar[str] = "loss_weights"

    pose: float = _weight(1.0, "Weight of the pose error (predicted against true segment positions).")
    temporal: float = _weight(0.5, "Weight of the frame-to-frame motion error (smooth motion at the right speed).")
    action: float = _weight(0.5, "Weight of the per-frame action classification.")
    physics: float = _weight(0.1, "Weight of the physics error (velocity, acceleration, momentum).")
    diffusion: float = _weight(0.0, "Weight of the diffusion refiner's loss: above 0 exactly when diffusion.enabled.")
    attachment: float = _weight(0.0, "Weight of keeping shoulders at the neck and hips at the pelvis, as the "
                                     "ground truth has them.")
    joint_limit: float = _weight(0.0, "Weight of bending elbows and knees the way the ground truth bends them.")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class DiffusionConfig:
    """The refinement module (spec §5, ``model/refiner.py``); off by default (the transformer alone)."""

    SECTION: ClassVar[str] = "diffusion"

    enabled: bool = setting(False, help="Train and use the diffusion refiner on the transformer's motion.")
    learning_rate: float = setting(1e-4, help="The refiner's own learning rate (the transformer keeps "
                                              "training.learning_rate).", gt=0, le=10)
    timesteps: int = setting(100, help="Diffusion steps the denoiser is trained over.", ge=1, le=100_000)
    sampling_steps: int = setting(4, help="DDIM steps at generation (at most timesteps).", ge=1, le=100_000)
    sampling_noise: float = setting(0.0, help="Size of the starting noise: 1 = a sample, 0 = the mean path "
                                              "(steadiest).", ge=0, le=10)
    schedule: Literal["cosine", "linear"] = setting("cosine", help="The noise schedule.")
    window: int = setting(64, help="Frames the denoiser sees at once; longer clips use overlapping windows.",
                          ge=2, le=1 << 16)
    d_model: int = setting(128, help="Width of the denoiser (even, and split into n_heads).", ge=2, le=1 << 16)
    n_layers: int = setting(2, help="Blocks of the denoiser.", ge=1, le=512)
    n_heads: int = setting(4, help="Attention heads of the denoiser.", ge=1, le=1024)
    scale: float = setting(0.05, help="Metres of correction that count as 1 for the denoiser.", gt=0, le=100)
    coarse_noise: float = setting(0.02, help="Up to this many metres of noise on the coarse motion in training.",
                                  ge=0, le=10)
    freeze_transformer: bool = setting(False, help="Second stage: train only the refiner on a transformer from "
                                                   "init_from.")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.sampling_steps > self.timesteps:
            raise ConfigError(f"diffusion.sampling_steps: expected at most diffusion.timesteps ({self.timesteps}), "
                              f"got {self.sampling_steps}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"diffusion.d_model: {self.d_model} must split into {self.n_heads} heads "
                              "(diffusion.n_heads)")
        if self.d_model % 2:
            raise ConfigError(f"diffusion.d_model: expected an even number, got {self.d_model}")


@dataclass
class LoraConfig:
    SECTION: ClassVar[str] = "lora"

    enabled: bool = setting(False, help="Train low-rank adapters only; the base weights stay frozen.")
    rank: int = setting(8, help="Rank of each adapter (its parameters grow with it).", ge=1, le=4096)
    alpha: float = setting(16.0, help="Adapter scaling: an adapter's update is scaled by alpha / rank.", gt=0)
    dropout: float = setting(0.05, help="Dropout on the adapters' input.", ge=0, lt=1)
    target_modules: list[str] = setting(default_factory=lambda: ["blocks", "pose_head"],
                                        help="Linear layers whose name matches one of these regular expressions "
                                             "get adapters.")

    def __post_init__(self) -> None:
        check_fields(self)
        for i, pattern in enumerate(self.target_modules):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"lora.target_modules[{i}]: {brief(pattern)} is not a valid regular expression "
                                  f"({exc})") from None


@dataclass
class DataConfig:
    SECTION: ClassVar[str] = "data"

    train_data: str | None = setting(None, help="Training file; when unset, the curated split of the stage.")
    curated_pretrain_data: str | None = setting("data/curated/pretrain_data_embedded.pt",
                                                help="The pretraining split (stage pretrain, no train_data).")
    curated_sft_data: str | None = setting("data/curated/sft_data_embedded.pt",
                                           help="The SFT split (stage sft, no train_data).")
    use_parallax_augmentation: bool = setting(False, help="Pair clips with rendered images (image conditioning; "
                                                          "needs parallax_root).")
    parallax_root: str | None = setting(None, help="Folder of the rendered images (stickgen parallax render).")
    parallax_image_size: int = setting(256, help="Images are resized to this many pixels square.", ge=8, le=1024)
    # image conditioning (stickgen_core/parallax): which rendered frames a clip is paired with
    use_parallax_sequences: bool = setting(False, help="Pair clips with windows of rendered frames, not single "
                                                       "frames.")
    parallax_sequence_length: int = setting(4, help="Images per window.", ge=1)
    parallax_sequence_stride: int = setting(1, help="A window starts every this many rendered steps.", ge=1)
    parallax_conditioning_mode: Literal["first_frame", "sequence"] = setting(
        "first_frame", help="first_frame: one image; sequence: a window of them.")

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class EmbeddingConfig:
    SECTION: ClassVar[str] = "embedding"

    model: str = setting("all-MiniLM-L6-v2", help="Text encoder: the packaged offline default, or any "
                                                  "sentence-transformers name or folder.")
    batch_size: int = setting(64, help="Texts embedded per batch.", ge=1, le=1 << 16)
    normalize: bool = setting(True, help="Scale each embedding to length 1.")
    cache_dir: str | None = setting(None, help="Embedding cache folder (default ~/.cache/stickgen/embeddings).")

    def __post_init__(self) -> None:
        check_fields(self)


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

    def __post_init__(self) -> None:
        """Rules that tie two sections together (each section checked its own keys when it was made)."""
        check_fields(self)
        d, weight = self.diffusion, self.loss_weights.diffusion
        if d.enabled and weight <= 0:
            raise ConfigError("loss_weights.diffusion: expected > 0 with diffusion.enabled: true (the refiner learns "
                              "only from that term), got 0")
        if not d.enabled and weight > 0:
            raise ConfigError(f"diffusion.enabled: false but loss_weights.diffusion is {weight}; "
                              "set diffusion.enabled: true or the weight to 0.0")
        if d.freeze_transformer and not d.enabled:
            raise ConfigError("diffusion.freeze_transformer: true needs diffusion.enabled: true")

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["data_curation"] = self.data_curation.to_dict()
        return out


# --------------------------------------------------------------------------- typed parsing
def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


def _build(cls: type, data: Any, where: str) -> Any:
    """``cls`` from a YAML mapping: unknown keys refused here; each section checks its values itself."""
    if cls is CurationConfig:
        return CurationConfig.from_dict(data, where=where)
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{_join(where, str(key)[:60])}: unknown key (known: {', '.join(sorted(known))})")
    sections = {f.name: f.default_factory for f in dataclasses.fields(cls) if dataclasses.is_dataclass(f.default_factory)}
    return cls(**{k: _build(sections[k], v, _join(where, k)) if k in sections else v for k, v in data.items()})


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> StickGenConfig:
    """A typed config from YAML (``extends:`` followed) with optional section overrides."""
    data = read_config_dict(path) if path else {}
    if overrides:
        data = merge_sections(data, dict(overrides))
    try:
        cfg: StickGenConfig = _build(StickGenConfig, data, "")
    except ConfigError as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from None
    return cfg


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
