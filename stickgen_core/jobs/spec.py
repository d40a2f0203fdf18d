"""``JobSpec``: what a training job runs, validated field by field, serialised into run.json."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import load_config
from ..errors import JobError

BACKENDS = ("local", "runpod", "skypilot")
STAGES = ("pretrain", "sft")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # the repository's, in a source checkout


def config_dirs() -> list[Path]:
    """Where config names are looked up: ``$STICKGEN_CONFIG_DIR``, ./configs, the repository's."""
    env = os.environ.get("STICKGEN_CONFIG_DIR")
    return [Path(p) for p in (env, "configs") if p] + [CONFIG_DIR]


@dataclass
class LoraSpec:
    """The ``lora`` section a job overrides (None fields keep the config's value)."""

    enabled: bool = False
    rank: int | None = None
    alpha: int | None = None
    dropout: float | None = None
    target_modules: list[str] | None = None


@dataclass
class JobSpec:
    """One training job. ``resume_from`` and ``init_from`` exclude each other."""

    stage: str
    config: str                         # a YAML path, or a name under configs/ ("small", "sft_small")
    data: str                           # a curated split; embedded first when it has no embeddings
    run_name: str | None = None
    resume_from: str | None = None
    init_from: str | None = None
    lora: LoraSpec | None = None
    loss_weights: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    gpu_count: int = 1                  # GPUs per node; above 1 the trainer runs under torchrun (DDP)
    overrides: dict[str, Any] = field(default_factory=dict)   # any other config section, nested
    backend: str = "local"
    backend_settings: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "JobSpec":
        """Raise JobError naming the first bad field; returns self."""
        if self.stage not in STAGES:
            raise JobError(f"job.stage: expected one of {STAGES}, got {self.stage!r}")
        if self.backend not in BACKENDS:
            raise JobError(f"job.backend: expected one of {BACKENDS}, got {self.backend!r}")
        if not isinstance(self.data, str) or not self.data:
            raise JobError("job.data: expected the path of a dataset file")
        if self.run_name is not None and not _NAME.match(self.run_name):
            raise JobError(f"job.run_name: expected letters, digits, '.', '_' or '-' (at most 64), got {self.run_name!r}")
        if self.resume_from and self.init_from:
            raise JobError("job.resume_from / job.init_from: set one of them, not both")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise JobError(f"job.{name}: expected a whole number of at least 1, got {value!r}")
        if not isinstance(self.gpu_count, int) or isinstance(self.gpu_count, bool) or self.gpu_count < 1:
            raise JobError(f"job.gpu_count: expected a whole number of at least 1, got {self.gpu_count!r}")
        if self.learning_rate is not None and not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise JobError(f"job.learning_rate: expected a positive number, got {self.learning_rate!r}")
        for key, value in self.loss_weights.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise JobError(f"job.loss_weights.{key}: expected a number >= 0, got {value!r}")
        if self.lora is not None:
            if self.lora.rank is not None and self.lora.rank < 1:
                raise JobError(f"job.lora.rank: expected at least 1, got {self.lora.rank}")
            if self.lora.dropout is not None and not 0 <= self.lora.dropout < 1:
                raise JobError(f"job.lora.dropout: expected 0 <= dropout < 1, got {self.lora.dropout}")
        if not isinstance(self.backend_settings, dict):
            raise JobError("job.backend_settings: expected a mapping")
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
