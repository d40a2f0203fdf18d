"""Limits that keep untrusted files from taking the machine down, and how to raise them.

Each limit has a default and an environment variable that overrides it (a plain number of
bytes, nodes or frames). The README's "Safety of inputs" section lists them. Errors quote
at most a short prefix of any value (``brief``), so a huge or self-referencing value can
never be expanded into a message.
"""

from __future__ import annotations

import os
import reprlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, DatasetError


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    what: str

    def value(self) -> int:
        raw = os.environ.get(self.env)
        if raw is None or raw == "":
            return self.default
        try:
            v = int(float(raw))
        except ValueError:
            raise ConfigError(f"{self.env}: expected a whole number ({self.what}), got {brief(raw)}") from None
        if v < 1:
            raise ConfigError(f"{self.env}: expected a positive whole number ({self.what}), got {v}")
        return v


#: Size of a YAML config or prompt-suite file.
YAML_BYTES = Limit("STICKGEN_MAX_YAML_BYTES", 4 << 20, "bytes of a YAML file")
#: Nodes of a YAML document with every alias expanded (stops "billion laughs").
YAML_NODES = Limit("STICKGEN_MAX_YAML_NODES", 200_000, "YAML nodes with aliases expanded")
#: Bytes a torch file may unpack to beyond its own size (stops compressed tensor bombs).
TORCH_EXPANSION = Limit("STICKGEN_MAX_UNPACKED_BYTES", 1 << 30, "bytes a torch file may unpack to beyond its size")
#: Frames ``render`` draws (each one is an image in memory until the GIF is written).
RENDER_FRAMES = Limit("STICKGEN_MAX_RENDER_FRAMES", 3000, "frames drawn by render")

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4
_repr.maxlevel = 2


def brief(value: Any) -> str:
    """A short repr of ``value`` for an error message: never more than about 80 characters."""
    text = _repr.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- YAML
def _strict_loader():
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys (the later one would silently win)."""

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.setdefault(key, key_node)
                    except TypeError:  # an unhashable key: the base class reports it
                        continue
                    if first is not key_node:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {brief(key)} (first at line {first.start_mark.line + 1})",
                            key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def expanded_nodes(root) -> int:
    """Nodes of a composed YAML document with every alias expanded (memoised: linear time)."""
    import yaml

    memo: dict[int, int] = {}
    open_ids: set[int] = set()
    stack = [(root, False)]
    while stack:  # iterative post-order: a deep document cannot exhaust the Python stack
        node, ready = stack.pop()
        if id(node) in memo:
            continue
        if isinstance(node, yaml.ScalarNode):
            memo[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if ready:
            memo[id(node)] = 1 + sum(memo[id(c)] for c in children)
            open_ids.discard(id(node))
            continue
        if id(node) in open_ids:  # an alias inside its own anchor: infinite when expanded
            return 1 << 62
        open_ids.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in memo)
    return memo[id(root)]


def parse_yaml(text: str, where: str) -> Any:
    """``text`` as YAML (safe tags only), refusing duplicate keys and alias expansion beyond the limit.

    Raises ConfigError naming ``where``; yaml.YAMLError is turned into a line/column message.
    """
    import yaml

    loader = _strict_loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        n, cap = expanded_nodes(node), YAML_NODES.value()
        if n > cap:
            raise ConfigError(f"{where}: the YAML expands to more than {cap:,} nodes through its aliases (&/*); "
                              f"refused (raise {YAML_NODES.env} if the file is genuine)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(f"{where}: not valid YAML{at}" + (f": {problem}" if problem else "")) from None
    except RecursionError:
        raise ConfigError(f"{where}: YAML nested too deeply") from None
    finally:
        loader.dispose()


def check_yaml_size(path: Path) -> None:
    size, cap = path.stat().st_size, YAML_BYTES.value()
    if size > cap:
        raise ConfigError(f"{path}: {size:,} bytes is more than a config file may hold ({cap:,}); "
                          f"raise {YAML_BYTES.env} if the file is genuine")


# --------------------------------------------------------------------------- torch files
def check_torch_expansion(path: Path) -> None:
    """Refuse a zip torch file whose members declare far more bytes than the file holds."""
    try:
        with zipfile.ZipFile(path) as zf:
            declared = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # torch.load gives the precise error for a damaged file
    size, cap = path.stat().st_size, TORCH_EXPANSION.value()
    if declared - size > cap:
        raise DatasetError(f"{path}: the file declares {declared / 2**30:.1f} GiB of tensors in "
                           f"{size / 2**20:.1f} MiB (compressed); refused before loading "
                           f"(raise {TORCH_EXPANSION.env} above {declared - size} bytes to load it)", path)
