"""Where each value of a resolved config comes from: the file, a file it extends, env, CLI or a default."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .config import StickGenConfig, load_config, read_config_layers, resolve_sources
from .config_fields import describe
from .errors import ConfigError

# settings that a training run takes from the command line or the environment (config.pick)
RUN_SETTINGS = {
    "data_path": ("data path of the run", "--data_path", "TRAIN_DATA_PATH"),
    "resume_from": ("training.resume_from", "--resume_from", "RESUME_FROM_CHECKPOINT"),
    "init_from": ("training.init_from", "--init_from", "INIT_FROM_CHECKPOINT"),
}


@dataclass(frozen=True)
class ResolvedValue:
    key: str      # section.field
    value: Any
    source: str   # "file", "extends <file>", "env NAME", "CLI --flag", "default", "ignored (...)"


def _value_source(layers, main: Path, section: str, name: str) -> str:
    for layer in reversed(layers):
        part = layer.data.get(section)
        if isinstance(part, dict) and name in part:
            return "file" if layer.path == main else f"extends {layer.path.name}"
    return "default"


def resolved_with_sources(path: str | Path, *, data_path: str | None = None, resume_from: str | None = None,
                          init_from: str | None = None, env: Mapping[str, str] | None = None) -> list[ResolvedValue]:
    """Every value of the config at ``path`` as a run would use it, with where it came from.

    The CLI flags and environment variables are those of ``stickgen train`` (CLI > env > file).
    """
    cfg = load_config(path)
    layers = read_config_layers(path)
    main = Path(path).resolve()
    rows: list[ResolvedValue] = []
    for section in dataclasses.fields(cfg):
        values = cfg.to_dict()[section.name]
        for name, value in values.items():
            rows.append(ResolvedValue(f"{section.name}.{name}", value, _value_source(layers, main, section.name, name)))
    sources = resolve_sources(cfg, data_path, resume_from, init_from, env)
    by_key = {r.key: i for i, r in enumerate(rows)}
    for attr, (key, flag, env_name) in RUN_SETTINGS.items():
        setting = getattr(sources, attr)
        origin = {"cli": f"CLI {flag}", "env": f"env {env_name}"}.get(setting.origin)
        if key in by_key:
            if origin or setting.origin.startswith("ignored"):
                rows[by_key[key]] = ResolvedValue(key, setting.value, origin or setting.origin)
        else:  # the data path: the config's train_data or curated split unless the CLI or env says otherwise
            own = "data.train_data" if cfg.data.train_data else f"data.curated_{cfg.training.stage}_data"
            rows.append(ResolvedValue(key, setting.value, origin or ("unset" if setting.value is None else f"= {own}")))
    return rows


def format_sources(path: str | Path, rows: list[ResolvedValue]) -> str:
    """A plain-text table: key, value, source; then the reference keys that were read as ours."""
    width = max(len(r.key) for r in rows)
    vwidth = min(max(len(repr(r.value)) for r in rows), 48)
    lines = [f"# {path}", f"{'key':<{width}}  {'value':<{vwidth}}  source"]
    lines += [f"{r.key:<{width}}  {repr(r.value):<{vwidth}}  {r.source}" for r in rows]
    for layer in read_config_layers(path):
        if layer.translation.aliases:
            lines.append(f"# {layer.path.name}: reference keys read as ours: {'; '.join(layer.translation.aliases)}")
        if layer.translation.ignored:
            lines.append(f"# {layer.path.name}: not used here: {layer.translation.ignored_text()}")
    return "\n".join(lines)


def key_reference(prefix: str = "") -> list[tuple[str, Any, str]]:
    """(key, default, what it does and accepts) of every config key, in file order; ``prefix`` keeps the keys
    that start with it (``lora``, ``training.warmup``)."""
    defaults = StickGenConfig()
    rows = [(f"{section.name}.{f.name}", getattr(getattr(defaults, section.name), f.name),
             describe(type(getattr(defaults, section.name)), f.name, key=False))
            for section in dataclasses.fields(StickGenConfig)
            for f in dataclasses.fields(type(getattr(defaults, section.name)))]
    rows = [r for r in rows if r[0].startswith(prefix)]
    if not rows:
        sections = ", ".join(f.name for f in dataclasses.fields(StickGenConfig))
        raise ConfigError(f"no config key starts with {prefix!r} (sections: {sections})")
    return rows


def format_reference(rows: list[tuple[str, Any, str]]) -> str:
    """``key: default`` lines as YAML writes them, each followed by what the key does."""
    return "\n".join(f"{key}: {json.dumps(list(value) if isinstance(value, tuple) else value)}\n    {text}"
                     for key, value, text in rows)
