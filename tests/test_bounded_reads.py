"""The one bounded reader (limits.read_bounded) and the depth-checked JSON reader, at their limits."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.io import load_torch_file, read_yaml
from stickgen_core.limits import JSON_BYTES, YAML_BYTES, json_depth, parse_json, read_bounded, read_json_file


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("STICKGEN_MAX_YAML_BYTES", "100")
    path = tmp_path / "c.yaml"
    path.write_bytes(b"a" * 100)
    assert read_bounded(path, YAML_BYTES) == b"a" * 100
    path.write_bytes(b"a" * 101)
    with pytest.raises(ConfigError, match=r"c.yaml: 101 bytes is more than a file may hold \(100\); raise "
                                          r"STICKGEN_MAX_YAML_BYTES"):
        read_bounded(path, YAML_BYTES)


@pytest.mark.parametrize("target,needle", [("/dev/zero", "is a device"), ("/dev/urandom", "is a device"),
                                           ("/proc/self/environ", "is a system file (/proc or /sys)"),
                                           ("/proc/self/status", "is a system file")])
def test_special_files_are_refused_before_a_byte_is_read(tmp_path, target, needle):
    if not os.path.exists(target):
        pytest.skip(f"no {target} here")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=re.escape(needle)):
        read_bounded(target, YAML_BYTES)
    link = tmp_path / "innocent.yaml"  # a link to one is the same file
    link.symlink_to(target)
    with pytest.raises(ConfigError, match=re.escape(f"innocent.yaml: {needle}")):
        read_yaml(link)
    assert time.perf_counter() - start < 2


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"pipe.yaml: is a pipe \(FIFO\)"):
        read_yaml(fifo)  # opening a FIFO for reading would wait for a writer forever
    with pytest.raises(DatasetError, match=r"pipe.yaml: is a pipe \(FIFO\); expected a torch file"):
        load_torch_file(fifo)
    with pytest.raises(ConfigError, match="is a folder"):
        read_bounded(tmp_path, YAML_BYTES)


def test_extends_a_device_is_one_config_error_naming_it(tmp_path):
    from stickgen_core.config import load_config

    (tmp_path / "shared.yaml").write_text("extends: /dev/zero\n")
    with pytest.raises(ConfigError, match="/dev/zero: is a device; expected a YAML config file"):
        load_config(tmp_path / "shared.yaml")


def test_json_depth_at_the_limit_is_parsed_and_one_level_more_is_refused(monkeypatch):
    monkeypatch.setenv("STICKGEN_MAX_JSON_DEPTH", "5")
    assert parse_json("[" * 5 + "]" * 5, "x.json") == [[[[[]]]]]
    with pytest.raises(ConfigError, match=r"x.json: JSON nested 6 levels deep, more than 5 allowed.*"
                                          r"STICKGEN_MAX_JSON_DEPTH"):
        parse_json("[" * 6 + "]" * 6, "x.json")
    monkeypatch.delenv("STICKGEN_MAX_JSON_DEPTH")
    with pytest.raises(ConfigError, match="JSON nested 100,000 levels deep"):
        parse_json("{\"a\":" * 100_000, "x.json")  # checked before parsing: no RecursionError


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": ["[[[[", "\\\"[[[", {"b": "}}}]]]"}]}).encode()
    assert json_depth(text) == 3
    assert json_depth(b"") == 0
    assert json_depth(b"[" * 5_000_000) == 5_000_000  # chunked: larger than one 4 MiB block


def test_read_json_file_names_the_file_for_every_failure(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    with pytest.raises(ConfigError, match="r.json: no such file"):
        read_json_file(path)
    path.write_text("{oops")
    with pytest.raises(ConfigError, match="r.json: not a JSON file"):
        read_json_file(path)
    monkeypatch.setenv(JSON_BYTES.env, "10")
    path.write_text(json.dumps({"a": "x" * 20}))
    with pytest.raises(ConfigError, match=f"r.json: .* raise {JSON_BYTES.env}"):
        read_json_file(path)
