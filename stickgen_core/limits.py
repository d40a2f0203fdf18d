"""Limits that keep untrusted files from taking the machine down, and how to raise them.

Each limit has a default and an environment variable that overrides it (a plain number of
bytes, nodes or frames). The README's "Safety of inputs" section lists them. Errors quote
at most a short prefix of any value (``brief``), so a huge or self-referencing value can
never be expanded into a message.
"""

from __future__ import annotations

import json
import os
import re
import reprlib
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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
#: Size of a JSON file the project reads (run folders, workspace, reports).
JSON_BYTES = Limit("STICKGEN_MAX_JSON_BYTES", 64 << 20, "bytes of a JSON file")
#: Nesting depth of a JSON document (a deeper one is refused before it is parsed).
JSON_DEPTH = Limit("STICKGEN_MAX_JSON_DEPTH", 64, "nesting levels of a JSON document")
#: Size of a BVH file ``convert`` reads (its text is parsed in memory).
BVH_BYTES = Limit("STICKGEN_MAX_BVH_BYTES", 256 << 20, "bytes of a BVH file")
#: Frames of one converted clip after resampling to 25 fps (a huge ``Frame Time`` asks for billions).
CONVERT_FRAMES = Limit("STICKGEN_MAX_CONVERT_FRAMES", 90_000, "frames of a converted clip at 25 fps")

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


# --------------------------------------------------------------------------- bounded reads
def _pseudo_devices() -> frozenset[int]:
    """st_dev of /proc and /sys: their files say size 0 and can be endless or secret (environ)."""
    devs = set()
    for root in ("/proc", "/sys"):
        try:
            devs.add(os.stat(root).st_dev)
        except OSError:
            pass
    return frozenset(devs)


_PSEUDO = _pseudo_devices()

ErrorType = Callable[[str], Exception]


def _refuse_special(path: Path, st: os.stat_result, what: str, error: ErrorType) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a folder; expected {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "not a regular file")
        raise error(f"{path}: is {kind}; expected {what} (a regular file)")
    if st.st_dev in _PSEUDO:
        raise error(f"{path}: is a system file (/proc or /sys); expected {what} (a regular file)")


def check_regular_file(path: str | os.PathLike, what: str = "a file", error: ErrorType = DatasetError) -> None:
    """Refuse a path that is missing, a folder, a device, a FIFO, a socket or under /proc or /sys,
    for readers that open the file themselves (torch.load, np.load)."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such file; expected {what}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    _refuse_special(p, st, what, error)


def read_bounded(path: str | os.PathLike, limit: Limit, what: str = "a file", error: ErrorType = ConfigError) -> bytes:
    """The bytes of a regular file, refused (``error`` naming the file and ``limit``) past the limit.

    Never trusts ``st_size`` alone: reads at most limit + 1 bytes. Devices, FIFOs, sockets and
    /proc or /sys files are refused before a byte is read; a FIFO is opened non-blocking and
    checked again on the open descriptor, so a swap after the first check cannot hang the reader.
    """
    p = Path(path)
    check_regular_file(p, what, error)
    cap = limit.value()
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        _refuse_special(p, st, what, error)
        try:
            data = fh.read(cap + 1)
        except OSError as exc:
            raise error(f"{p}: cannot read ({exc.strerror or exc})") from None
    if len(data) > cap:
        size = f"{st.st_size:,} bytes" if st.st_size > cap else f"more than {cap:,} bytes"
        raise error(f"{p}: {size} is more than {what} may hold ({cap:,}); raise {limit.env} if the file is genuine")
    return data


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def json_depth(data: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings left out (linear, vectorised)."""
    import numpy as np

    bare = _JSON_STRING.sub(b"", data)
    deepest = level = 0
    for start in range(0, len(bare), 1 << 22):  # 4 MiB at a time: memory stays small on a big file
        codes = np.frombuffer(bare, dtype=np.uint8, count=min(1 << 22, len(bare) - start), offset=start)
        step = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int32)
        step -= (codes == ord("]")) | (codes == ord("}"))
        levels = np.cumsum(step, dtype=np.int64) + level
        deepest, level = max(deepest, int(levels.max())), int(levels[-1])
    return deepest


def parse_json(data: bytes | str, where: str, error: ErrorType = ConfigError) -> Any:
    """A JSON document, its nesting depth checked before it is parsed (``JSON_DEPTH``)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    cap = JSON_DEPTH.value()
    depth = json_depth(raw)
    if depth > cap:
        raise error(f"{where}: JSON nested {depth:,} levels deep, more than {cap} allowed; refused "
                    f"(raise {JSON_DEPTH.env} if the file is genuine)")
    try:
        return json.loads(raw)
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise error(f"{where}: not a JSON file ({brief(str(exc).splitlines()[0])[1:-1]})") from None


def read_json_file(path: str | os.PathLike, what: str = "a JSON file", error: ErrorType = ConfigError) -> Any:
    """``read_bounded`` + ``parse_json``: the one way the project reads a JSON file by name."""
    return parse_json(read_bounded(path, JSON_BYTES, what, error), str(path), error)


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
