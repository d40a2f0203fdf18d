"""Configs: extends, typed errors naming the key path, and the spec's precedence tables."""

import pytest

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.curation import CurationConfig
from stickgen_core.errors import ConfigError

VARIANTS = ["small", "base", "medium", "large"]


@pytest.mark.parametrize("name", VARIANTS)
def test_shipped_configs_load_and_sft_states_only_differences(name):
    pre = load_config(f"configs/{name}.yaml")
    sft = load_config(f"configs/sft_{name}.yaml")
    assert pre.training.stage == "pretrain" and sft.training.stage == "sft"
    assert sft.training.learning_rate < pre.training.learning_rate
    assert sft.training.epochs < pre.training.epochs
    assert sft.model == pre.model  # inherited, not restated
    assert sft.data_curation == pre.data_curation
    text = open(f"configs/sft_{name}.yaml").read()
    assert "extends:" in text and "model:" not in text


def test_curation_thresholds_follow_extends():
    assert CurationConfig.from_yaml("configs/sft_small.yaml") == load_config("configs/small.yaml").data_curation


@pytest.mark.parametrize("yaml_text,needle", [
    ("training:\n  lerning_rate: 0.1\n", "training.lerning_rate: unknown key"),
    ("training:\n  epochs: ten\n", "training.epochs: expected a whole number, got str 'ten'"),
    ("model:\n  dropout: [1]\n", "model.dropout: expected a number"),
    ("lora:\n  target_modules: blocks\n", "lora.target_modules: expected a list"),
    ("lora:\n  enabled: 1\n", "lora.enabled: expected true or false"),
    ("optimizer: {}\n", "optimizer: unknown key"),
    ("training:\n  stage: rlhf\n", "training.stage: expected one of pretrain, sft, got 'rlhf'"),
    ("training:\n  precision: fp16\n", "training.precision: expected one of auto, float32, bfloat16, got 'fp16'"),
    ("model:\n  embedding_dim: big\n", "model.embedding_dim"),
    ("model:\n  d_model: 100\n  n_heads: 8\n", "model.d_model: 100 must split"),
    ("data_curation:\n  min_quality_sft: 7\n", "data_curation.min_quality_sft"),
    ("extends: missing.yaml\n", "missing.yaml: no such config file"),
    ("training: [\n", "not valid YAML at line"),
])
def test_bad_configs_name_file_and_key(tmp_path, yaml_text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert needle in str(err.value) and ("bad.yaml" in str(err.value) or "missing.yaml" in str(err.value))


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(tmp_path / "a.yaml")


def _cfg(tmp_path, resume=None, init=None, data=None, stage="pretrain"):
    p = tmp_path / "c.yaml"
    lines = ["extends: " + str((__import__("pathlib").Path("configs/small.yaml")).resolve()),
             "training:", f"  stage: {stage}", f"  resume_from: {resume or 'null'}", f"  init_from: {init or 'null'}"]
    if data:
        lines += ["data:", f"  train_data: {data}"]
    p.write_text("\n".join(lines) + "\n")
    return load_config(p)


# (cli, env, config) -> expected origin, for each of the three settings of the spec's tables
CASES = [((None, None, None), "unset"), ((None, None, "c.pth"), "config"), ((None, "e.pth", "c.pth"), "env"),
         (("x.pth", "e.pth", "c.pth"), "cli"), (("x.pth", None, None), "cli"), ((None, "e.pth", None), "env"),
         (("x.pth", None, "c.pth"), "cli")]


@pytest.mark.parametrize("values,origin", CASES)
def test_resume_from_precedence(tmp_path, values, origin):
    cli, env, conf = values
    cfg = _cfg(tmp_path, resume=conf)
    src = resolve_sources(cfg, resume_from=cli, env={"RESUME_FROM_CHECKPOINT": env} if env else {})
    assert src.resume_from.origin == origin
    assert src.resume_from.value == {"cli": cli, "env": env, "config": conf, "unset": None}[origin]


@pytest.mark.parametrize("values,origin", CASES)
def test_init_from_precedence(tmp_path, values, origin):
    cli, env, conf = values
    cfg = _cfg(tmp_path, init=conf, stage="sft")
    src = resolve_sources(cfg, init_from=cli, env={"INIT_FROM_CHECKPOINT": env} if env else {})
    assert src.init_from.origin == origin and not src.init_ignored


@pytest.mark.parametrize("values,origin", CASES[1:])
def test_data_path_precedence(tmp_path, values, origin):
    cli, env, conf = values
    cfg = _cfg(tmp_path, data=conf)
    src = resolve_sources(cfg, data_path=cli, env={"TRAIN_DATA_PATH": env} if env else {})
    assert src.data_path.origin == origin


def test_data_path_defaults_to_the_stage_split(tmp_path):
    assert resolve_sources(_cfg(tmp_path), env={}).data_path.value.endswith("pretrain_data_embedded.pt")
    assert resolve_sources(_cfg(tmp_path, stage="sft"), env={}).data_path.value.endswith("sft_data_embedded.pt")


def test_resume_wins_over_init_and_says_so(tmp_path):
    cfg = _cfg(tmp_path, init="pre.pth")
    src = resolve_sources(cfg, resume_from="last.pth", env={})
    assert src.resume_from.value == "last.pth" and src.init_from.value is None and src.init_ignored
    assert "pre.pth" in src.init_from.origin
