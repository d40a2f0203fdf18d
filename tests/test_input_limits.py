"""Limits on untrusted files and names: YAML aliases, sizes and duplicate keys, short error
quotes, file names from YAML, declared tensor sizes, config ranges and side fields of samples."""

import os

import pytest
import torch

from stickgen_core.config import load_config
from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.io import load_torch_file, read_yaml
from stickgen_core.limits import brief
from stickgen_core.paths import inside, safe_name
from stickgen_core.schema import validate_sample
from tests.hostile_cases import alias_bomb, tensor_bomb


def test_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(levels=12) + "x: *a11\n")  # 9^12 strings when expanded
    with pytest.raises(ConfigError, match=r"bomb.yaml: the YAML expands to more than 200,000 nodes .*STICKGEN_MAX_YAML_NODES"):
        read_yaml(path)


def test_small_aliases_still_work_and_the_limit_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lr: 0.1, n: 2}\nuse: *b\nmerged:\n  <<: *b\n  n: 3\n")
    assert read_yaml(path) == {"base": {"lr": 0.1, "n": 2}, "use": {"lr": 0.1, "n": 2}, "merged": {"lr": 0.1, "n": 3}}
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(levels=6))  # about 600,000 nodes expanded
    with pytest.raises(ConfigError):
        read_yaml(bomb)
    monkeypatch.setenv("STICKGEN_MAX_YAML_NODES", "2000000")
    assert len(read_yaml(bomb)["a5"]) == 9


def test_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="loop.yaml: the YAML expands"):
        read_yaml(path)


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("training:\n  learning_rate: 0.1\n  epochs: 2\n  learning_rate: 0.2\n")
    with pytest.raises(ConfigError, match=r"dup.yaml: not valid YAML at line 4.*duplicate key 'learning_rate' \(first at line 2\)"):
        read_yaml(path)


def test_oversized_yaml_is_refused_by_size(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" + "#" * 5000 + "\n")
    monkeypatch.setenv("STICKGEN_MAX_YAML_BYTES", "1000")
    with pytest.raises(ConfigError, match=r"big.yaml: 5,006 bytes .*STICKGEN_MAX_YAML_BYTES"):
        read_yaml(path)


def test_error_messages_quote_only_a_short_prefix(tmp_path):
    nested = [["x" * 10_000] * 1000] * 1000
    assert len(brief(nested)) <= 80
    path = tmp_path / "long.yaml"
    path.write_text("training:\n  learning_rate: " + "9" * 50_000 + "x\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "training.learning_rate" in str(err.value) and len(str(err.value)) < 400


@pytest.mark.parametrize("name", ["../x", "../../victim/precious", "/etc/passwd", "a/b", "a\\b", ".hidden", "..", ".",
                                  "", "x" * 121, "tab\tname", "nul\x00", None, ["list"]])
def test_names_that_could_leave_their_folder_are_refused(name):
    with pytest.raises(ConfigError, match="suites.yaml: prompts\\[0\\].id: .* cannot be used as a file name"):
        safe_name(name, "suites.yaml: prompts[0].id")


@pytest.mark.parametrize("name", ["walk_straight", "adversarial_edge_cases", "v1.2", "a-b+c", "42", 42])
def test_plain_names_pass(name):
    assert safe_name(name, "x") == str(name)


def test_inside_refuses_a_symlink_that_leaves_the_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    assert inside(tmp_path / "out", "a", "b.pt") == tmp_path / "out" / "a" / "b.pt"
    with pytest.raises(DatasetError, match="resolves outside"):
        inside(tmp_path / "out", "link", "b.pt")


def test_declared_tensor_size_is_checked_before_loading(tmp_path, monkeypatch):
    bomb = tensor_bomb(tmp_path / "bomb.pt", n_floats=4 << 20)  # 16 MiB unpacked from a few KiB
    assert bomb.stat().st_size < 200_000
    monkeypatch.setenv("STICKGEN_MAX_UNPACKED_BYTES", str(1 << 20))
    with pytest.raises(DatasetError, match=r"bomb.pt: the file declares 0.0 GiB .*refused before loading"):
        load_torch_file(bomb)
    monkeypatch.setenv("STICKGEN_MAX_UNPACKED_BYTES", str(64 << 20))
    try:  # raised: our check lets it through to torch (which may or may not read deflated members)
        load_torch_file(bomb)
    except DatasetError as exc:
        assert "refused before loading" not in str(exc)


@pytest.mark.parametrize("section,key,value", [
    ("training", "learning_rate", -1.0), ("training", "learning_rate", float("nan")), ("model", "dropout", 5.0),
    ("model", "n_heads", 0), ("training", "val_fraction", 2.0), ("training", "val_fraction", 1.0),
    ("training", "max_grad_norm", 0.0), ("training", "min_lr_ratio", 1.5), ("loss_weights", "pose", -1.0),
    ("loss_weights", "physics", float("inf")), ("lora", "rank", 0), ("lora", "dropout", 1.0),
    ("training", "betas", [0.9, 1.5]), ("lora", "target_modules", ["(["]), ("training", "eps", 0.0),
])
def test_config_values_out_of_range_name_their_key(section, key, value):
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        load_config(overrides={section: {key: value}})


@pytest.mark.parametrize("change,field", [
    ({"fps": "fast"}, "fps"), ({"fps": 0}, "fps"), ({"meta": {"fps": float("nan")}}, "meta.fps"),
    ({"meta": {"injected_defects": "lots"}}, "meta.injected_defects"),
    ({"meta": {"injected_defects": [1, 2]}}, "meta.injected_defects"), ({"meta": "x"}, "meta"),
    ({"description": "walk \udc80"}, "description"), ({"embedding": torch.tensor([0.0, float("nan")])}, "embedding"),
])
def test_side_fields_are_validated(clean_sample, change, field):
    problems = validate_sample(dict(clean_sample, **change))
    assert [p.field for p in problems] == [field]
    assert validate_sample(clean_sample) == []


def test_limits_reject_a_bad_override(tmp_path, monkeypatch):
    monkeypatch.setenv("STICKGEN_MAX_YAML_BYTES", "lots")
    (tmp_path / "a.yaml").write_text("a: 1\n")
    with pytest.raises(ConfigError, match="STICKGEN_MAX_YAML_BYTES: expected a whole number"):
        read_yaml(tmp_path / "a.yaml")
    assert os.environ["STICKGEN_MAX_YAML_BYTES"] == "lots"


class _StubGenerator:
    """Stands in for the model: returns one fixed valid clip for every prompt."""

    def __init__(self, sample):
        from stickgen_core.critic import SafetyCritic

        self.critic, self.sample, self.enable_safety_check = SafetyCritic(), sample, True

    def generate(self, text, seconds, seed):
        r = self.critic.evaluate(self.sample["motion"])
        return {"prompt": text, "motion": self.sample["motion"], "actions": self.sample["actions"],
                "physics": self.sample["physics"], "notes": [], "fps": 25, "checkpoint": "stub", "seconds": seconds,
                "frames": len(self.sample["motion"]), "safety": r.to_dict(), "is_safe": r.is_safe}


@pytest.mark.parametrize("suite,pid", [("basic", "../../../../victim/precious"), ("basic", "/ABS/precious"),
                                       ("../../../victim", "precious")])
def test_adversarial_eval_never_writes_outside_its_folder(tmp_path, clean_sample, suite, pid):
    from stickgen_core.evaluation import run_adversarial_eval

    victim = tmp_path / "victim"
    victim.mkdir()
    pid = pid.replace("/ABS", str(victim))
    suites = tmp_path / "suites.yaml"
    suites.write_text(f"version: 1\nsuites:\n  {suite!r}:\n    prompts:\n      - id: {pid!r}\n        text: walk\n"
                      "        seconds: 1\n")
    with pytest.raises(ConfigError, match="cannot be used as a file name"):
        run_adversarial_eval("stub", None, tmp_path / "out" / "eval", suites_path=suites,
                             generator=_StubGenerator(clean_sample))
    assert list(victim.iterdir()) == []
