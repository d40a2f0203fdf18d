"""Config files: the YAML of an ``extends:`` chain, read layer by layer and merged (the child wins).

Kept apart from the typed config (``config.py``) so that the curation config can read a file's
section without importing the whole training config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config_reference import Translation, report, translate
from .errors import ConfigError
from .io import read_yaml
from .limits import brief


def merge_sections(base: dict, over: dict) -> dict:
    """``over`` laid over ``base``, nested mappings merged key by key (the later file wins)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_sections(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass(frozen=True)
class ConfigLayer:
    """One YAML file of an ``extends:`` chain, reference keys already read as ours."""

    path: Path
    data: dict
    translation: Translation


def read_config_layers(path: str | Path, _seen: tuple = ()) -> list[ConfigLayer]:
    """The files of ``path``'s ``extends:`` chain, the farthest ancestor first."""
    p = Path(path).resolve()
    if p in _seen:
        raise ConfigError(f"{path}: extends itself through {' -> '.join(map(str, _seen + (p,)))}")
    doc = read_yaml(p)
    parent = doc.pop("extends", None)
    try:
        data, translation = translate(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    report(str(path), translation)
    if parent is None:
        return [ConfigLayer(p, data, translation)]
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: extends: expected a file name, got {brief(parent)}")
    return read_config_layers(p.parent / parent, _seen + (p,)) + [ConfigLayer(p, data, translation)]


def read_config_dict(path: str | Path) -> dict:
    """The YAML of ``path`` with its ``extends:`` chain merged in (the child wins)."""
    out: dict = {}
    for layer in read_config_layers(path):
        out = merge_sections(out, layer.data)
    return out
