"""``JobSpec``: what a training job runs, validated field by field, serialised into run.json."""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..config import LoraConfig, TrainingConfig, load_config
from ..config_fields import check_fields, setting
from ..errors import JobError

Backend = Literal["local", "runpod", "skypilot"]
Stage = Literal["pretrain", "sft"]
BACKENDS: tuple[str, ...] = typing.get_args(Backend)
STAGES: tuple[str, ...] = typing.get_args(Stage)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # the repository's, in a source checkout


def config_dirs() -> list[Path]:
    """Where config names are looked up: ``$STICKGEN_CONFIG_DIR``, ./configs, the repository's."""
    env = os.environ.get("STICKGEN_CONFIG_DIR")
    return [Path(p) for p in (env, "configs") if p] + [CONFIG_DIR]


@dataclass
class LoraSpec:
    """The ``lora`` section a job overrides (None fields keep the config's value); help and ranges are the
    config's own."""

    SECTION: ClassVar[str] = "job.lora"

    enabled: bool = setting(False, like=(LoraConfig, "enabled"))
    rank: int | None = setting(None, like=(LoraConfig, "rank"))
    alpha: int | None = setting(None, like=(LoraConfig, "alpha"))
    dropout: float | None = setting(None, like=(LoraConfig, "dropout"))
    target_modules: list[str] | None = setting(None, like=(LoraConfig, "target_modules"))

    def __post_init__(self) -> None:
        check_fields(self, error=JobError)


@dataclass
class JobSpec:
    """One training job. ``resume_from`` and ``init_from`` exclude each other.

    Each field's type, choices and range are checked when the spec is made (``JobError`` naming
    ``job.<field>``); ``validate`` adds what needs the whole spec or the disk (the config file)."""

    SECTION: ClassVar[str] = "job"

    stage: Stage = setting(like=(TrainingConfig, "stage"))
    config: str = setting(help="A config YAML path, or a name under configs/ (small, sft_small, ...).")
    data: str = setting(help="A curated split; embedded first when it has no embeddings.")
    run_name: str | None = setting(None, help="The run's folder name under runs/ (default <stage>-<date>-<time>).")
    resume_from: str | None = setting(None, like=(TrainingConfig, "resume_from"))
    init_from: str | None = setting(None, like=(TrainingConfig, "init_from"))
    lora: LoraSpec | None = setting(None, help="LoRA settings over the config's lora section.")
    loss_weights: dict[str, float] = setting(default_factory=dict, ge=0, le=1e6,
                                             help="Loss weights over the config's loss_weights, by name.")
    epochs: int | None = setting(None, like=(TrainingConfig, "epochs"))
    batch_size: int | None = setting(None, like=(TrainingConfig, "batch_size"))
    learning_rate: float | None = setting(None, like=(TrainingConfig, "learning_rate"))
    gpu_count: int = setting(1, help="GPUs per machine (a RunPod pod has up to 8); above 1 the trainer runs under "
                                     "torchrun, one process per GPU, each with the batch size.", ge=1)
    overrides: dict[str, Any] = setting(default_factory=dict, help="Any other config section, nested.")
    backend: Backend = setting("local", help="Where the job runs: this machine, a RunPod pod or SkyPilot.")
    backend_settings: dict[str, Any] = setting(default_factory=dict, help="The backend's own settings.")

    def __post_init__(self) -> None:
        check_fields(self, error=JobError)

    def validate(self) -> "JobSpec":
        """Raise JobError naming the first bad field; returns self."""
        check_fields(self, error=JobError)  # again: a field may have been set since the spec was made
        if not self.data:
            raise JobError("job.data: expected the path of a dataset file")
        if self.run_name is not None and not _NAME.match(self.run_name):
            raise JobError(f"job.run_name: expected letters, digits, '.', '_' or '-' (at most 64), got {self.run_name!r}")
        if self.resume_from and self.init_from:
            raise JobError("job.resume_from / job.init_from: set one of them, not both")
        if self.lora is not None:
            check_fields(self.lora, error=JobError)
        self.config_path()  # a missing config is the config field's error
        try:
            load_config(self.config_path(), overrides=self.config_overrides())
        except Exception as exc:  # the config's own message names the key; say it came from the job
            raise JobError(f"job.config / overrides: {exc}") from None
        return self

    def config_path(self) -> Path:
        """The YAML file ``config`` names (a path, or ``configs/<name>.yaml``)."""
        path = Path(self.config)
        for candidate in [path] + [d / n for d in config_dirs() for n in (path, path.name, f"{self.config}.yaml")]:
            if candidate.is_file():
                return candidate
        raise JobError(f"job.config: no config file {self.config!r} (a YAML path, or a name under "
                       f"{', '.join(map(str, config_dirs()))})")

    def config_overrides(self) -> dict[str, Any]:
        """The nested overrides this job applies over its config file."""
        over: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in self.overrides.items()}
        training = over.setdefault("training", {})
        training["stage"] = self.stage
        for name in ("epochs", "batch_size", "learning_rate"):
            if getattr(self, name) is not None:
                training[name] = getattr(self, name)
        # the job passes them on the trainer's command line; the config keeps none of its own
        training["resume_from"] = None
        training["init_from"] = None
        if self.loss_weights:
            over.setdefault("loss_weights", {}).update(self.loss_weights)
        if self.lora is not None:
            over.setdefault("lora", {}).update({k: v for k, v in dataclasses.asdict(self.lora).items() if v is not None})
        return over

    def resolved_config(self) -> dict[str, Any]:
        """The complete config the trainer gets (file + overrides), as a plain dict."""
        return load_config(self.config_path(), overrides=self.config_overrides()).to_dict()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobSpec":
        """A spec from run.json's ``job`` (unknown keys are an error naming them)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise JobError(f"job: unknown field(s) {unknown}; expected some of {sorted(known)}")
        values = dict(data)
        if isinstance(values.get("lora"), dict):
            lora_known = {f.name for f in dataclasses.fields(LoraSpec)}
            bad = sorted(set(values["lora"]) - lora_known)
            if bad:
                raise JobError(f"job.lora: unknown field(s) {bad}")
            values["lora"] = LoraSpec(**values["lora"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise JobError(f"job: {exc}") from None

    def replace(self, **changes: Any) -> "JobSpec":
        return dataclasses.replace(self, **changes)


def sft_config_for(config: str) -> str:
    """The ``sft_*`` config matching a pretraining config (``small`` -> ``sft_small``)."""
    path = Path(config)
    stem = path.stem if path.suffix in (".yaml", ".yml") else path.name
    if stem.startswith("sft_"):
        return config
    sft = f"sft_{stem}"
    if path.suffix:
        sibling = path.with_name(f"{sft}{path.suffix}")
        if sibling.is_file():
            return str(sibling)
    if any((d / f"{sft}.yaml").is_file() for d in config_dirs()):
        return sft
    raise JobError(f"job.config: no SFT config matches {config!r} (looked for {sft}.yaml)")
