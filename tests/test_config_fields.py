"""Every config field's range and choices, tested from the fields' own metadata.

The cases are generated from ``config_fields`` metadata of every config class (training config
sections, curation, critic, job spec), so a new field or a new class with a ``SECTION`` is covered
without a new test: each range at its boundary, one step inside and one step past; each Literal's
values and a value that is not one; every field has help text; the CLI's --help is that help.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import re
import types
import typing

import numpy as np
import pytest

from stickgen_core.config_fields import Range, check_value, choices_of, cli_help, describe, help_of, hints, key_of
from stickgen_core.errors import ConfigError, JobError, StickGenError

MODULES = ("stickgen_core.config", "stickgen_core.curation.config", "stickgen_core.critic_config",
           "stickgen_core.jobs.spec")
# the fields a class needs to be made at all (no default)
REQUIRED = {"JobSpec": dict(stage="pretrain", config="small", data="x.pt")}


def config_classes() -> list[type]:
    """Every dataclass of the config modules that names its section: the classes that check themselves."""
    found = {}
    for name in MODULES:
        for _, obj in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if dataclasses.is_dataclass(obj) and isinstance(getattr(obj, "SECTION", None), str) and obj.SECTION:
                found[obj.__qualname__] = obj
    return sorted(found.values(), key=lambda c: c.__qualname__)


CLASSES = config_classes()


def test_the_classes_are_found():
    names = {c.__name__ for c in CLASSES}
    assert {"ModelConfig", "TrainingConfig", "LossWeights", "DiffusionConfig", "LoraConfig", "DataConfig",
            "EmbeddingConfig", "CurationConfig", "SafetyCriticConfig", "JobSpec", "LoraSpec"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_field_says_what_it_does(cls):
    missing = [f.name for f in dataclasses.fields(cls) if len(help_of(cls, f.name)) < 10]
    assert not missing, f"{cls.__name__}: fields without help: {missing}"


def _number_type(cls: type, name: str) -> type:
    """int or float: the number type of a field, or of its items (list[float], dict[str, float], X | None)."""
    tp = hints(cls)[name]
    while True:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None) and typing.get_origin(a) is not typing.Literal)
        elif origin in (list, tuple):
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return tp


def _wrap(cls: type, name: str, value):
    """``value`` in the field's container (a range of a list or mapping holds for each item)."""
    tp = hints(cls)[name]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    origin = typing.get_origin(tp)
    return [value] if origin is list else (value,) if origin is tuple else {"x": value} if origin is dict else value


def _step(value: float, toward: float, kind: type) -> float:
    return value + (1 if toward > value else -1) if kind is int else float(np.nextafter(value, toward))


def boundary_cases():
    """(class, field, value, accepted) at every finite end of every range, one step inside and one past."""
    cases = []
    for cls in CLASSES:
        for f in dataclasses.fields(cls):
            rng: Range | None = f.metadata.get("range")
            if rng is None:
                continue
            kind = _number_type(cls, f.name)
            for end, closed, inward in ((rng.lo, rng.lo_in, rng.hi), (rng.hi, rng.hi_in, rng.lo)):
                if math.isinf(end):
                    continue
                end = kind(end)
                outward = -math.inf if inward > end else math.inf
                cases.append(pytest.param(cls, f.name, end, closed, id=f"{cls.__name__}.{f.name}={end!r}"))
                cases.append(pytest.param(cls, f.name, _step(end, inward, kind), True,
                                          id=f"{cls.__name__}.{f.name}=inside {end!r}"))
                cases.append(pytest.param(cls, f.name, _step(end, outward, kind), False,
                                          id=f"{cls.__name__}.{f.name}=past {end!r}"))
            if kind is float:  # an open infinite end: inf and NaN are never values
                cases.append(pytest.param(cls, f.name, math.nan, False, id=f"{cls.__name__}.{f.name}=nan"))
                if math.isinf(rng.hi):
                    cases.append(pytest.param(cls, f.name, math.inf, False, id=f"{cls.__name__}.{f.name}=inf"))
    return cases


def _error(cls: type) -> type[Exception]:
    return JobError if cls.__module__.endswith("jobs.spec") else ConfigError


@pytest.mark.parametrize("cls, name, value, accepted", boundary_cases())
def test_each_range_at_its_boundary_and_one_step_past(cls, name, value, accepted):
    wrapped = _wrap(cls, name, value)
    if accepted:
        check_value(cls, name, wrapped, error=_error(cls))
    else:
        with pytest.raises(_error(cls), match=r"expected a value "):
            check_value(cls, name, wrapped, error=_error(cls))
        # the class itself refuses it when made, naming the key path (its __post_init__ checks its fields)
        with pytest.raises(StickGenError) as err:
            cls(**{**REQUIRED.get(cls.__name__, {}), name: wrapped})
        assert re.match(rf"{re.escape(key_of(cls, name))}(\[0\]|\.x)?: expected a value ", str(err.value)), err.value


@pytest.mark.parametrize("cls_name, name, text", [
    # the ranges whose open or closed end carries meaning (the generated cases above test whatever is declared;
    # these pin what is declared)
    ("SafetyCriticConfig", "rejection_severity_threshold", "a value in (0, 1]"),  # above 1: nothing is ever unsafe
    ("SafetyCriticConfig", "repetition_window", "a value >= 4"),
    ("CurationConfig", "balance_max_fraction", "a value in (0, 1]"),  # 0 would keep no clip of any action
    ("CurationConfig", "min_quality_sft", "a value in [0, 1]"),
    ("TrainingConfig", "learning_rate", "a value in (0, 10]"),
    ("TrainingConfig", "val_fraction", "a value in [0, 1)"),  # 1 would leave nothing to train on
    ("TrainingConfig", "text_dropout", "a value in [0, 1)"),
    ("LoraConfig", "dropout", "a value in [0, 1)"),
    ("ModelConfig", "num_actions", "a value in [{n}, 65536]"),
    ("DiffusionConfig", "window", "a value in [2, 65536]"),
    ("JobSpec", "gpu_count", "a value >= 1"),
    ("LoraSpec", "rank", "a value in [1, 4096]"),  # the config's own range, copied
])
def test_ranges_that_matter_are_as_declared(cls_name, name, text):
    from stickgen_core.config_fields import range_of
    from stickgen_core.schema import NUM_ACTIONS

    cls = next(c for c in CLASSES if c.__name__ == cls_name)
    assert str(range_of(cls, name)) == text.format(n=NUM_ACTIONS)


def literal_fields():
    return [pytest.param(cls, f.name, id=f"{cls.__name__}.{f.name}")
            for cls in CLASSES for f in dataclasses.fields(cls) if choices_of(cls, f.name)]


@pytest.mark.parametrize("cls, name", literal_fields())
def test_each_choice_is_accepted_and_anything_else_named(cls, name):
    choices = choices_of(cls, name)
    for value in choices:
        assert check_value(cls, name, value) == value
    with pytest.raises(StickGenError) as err:
        cls(**{**REQUIRED.get(cls.__name__, {}), name: "nope"})
    assert str(err.value).startswith(f"{key_of(cls, name)}: expected ")
    assert f"one of {', '.join(map(str, choices))}" in str(err.value) and "'nope'" in str(err.value)


def test_literal_choice_in_a_list_names_the_item(tmp_path):
    from stickgen_core.config import load_config

    with pytest.raises(ConfigError, match=r"training\.report_to\[1\]: expected one of tensorboard, wandb, mlflow, "
                                          r"got 'neptune'"):
        load_config(overrides={"training": {"report_to": ["wandb", "neptune"]}})


@pytest.mark.parametrize("cls_name, name, value, needle", [
    ("TrainingConfig", "epochs", True, "training.epochs: expected a whole number, got bool True"),
    ("TrainingConfig", "learning_rate", "1e-3", "training.learning_rate: expected a number, got str '1e-3'"),
    ("LoraConfig", "enabled", 1, "lora.enabled: expected true or false, got int 1"),
    ("CurationConfig", "mocap_sources", "mocap", "data_curation.mocap_sources: expected a list, got str 'mocap'"),
    ("CurationConfig", "source_weights", {"mocap": "high"}, "data_curation.source_weights.mocap: expected a number"),
    ("SafetyCriticConfig", "max_wrong_bend", "30", "safety_critic.max_wrong_bend: expected a number"),
    ("JobSpec", "epochs", 2.5, "job.epochs: expected a whole number, got float 2.5"),
    ("LoraSpec", "rank", "8", "job.lora.rank: expected a whole number, got str '8'"),
])
def test_wrong_types_are_one_line_naming_the_key(cls_name, name, value, needle):
    cls = next(c for c in CLASSES if c.__name__ == cls_name)
    with pytest.raises(StickGenError) as err:
        cls(**{**REQUIRED.get(cls_name, {}), name: value})
    assert str(err.value) == needle or str(err.value).startswith(needle), err.value
    assert "\n" not in str(err.value)


def test_values_are_coerced_as_the_yaml_formats_had_them():
    from stickgen_core.critic_config import SafetyCriticConfig
    from stickgen_core.curation import CurationConfig

    cur = CurationConfig(min_quality_sft=1, mocap_sources=["a", "b"], source_weights={"a": 1})
    assert cur.min_quality_sft == 1.0 and type(cur.min_quality_sft) is float
    assert cur.mocap_sources == ("a", "b") and cur.source_weights == {"a": 1.0}
    assert cur.to_dict()["mocap_sources"] == ["a", "b"]  # the YAML keeps lists
    assert SafetyCriticConfig(stillness_words=["still"]).stillness_words == ("still",)


def test_cross_field_rules_stay_beside_their_class():
    from stickgen_core.config import load_config
    from stickgen_core.curation import CurationConfig

    with pytest.raises(ConfigError, match="data_curation.min_frames: 30 is above max_frames 20"):
        CurationConfig(min_frames=30, max_frames=20)
    CurationConfig(min_frames=20, max_frames=20)  # equal is fine
    with pytest.raises(ConfigError, match=r"training.betas: expected two numbers in \[0, 1\)"):
        load_config(overrides={"training": {"betas": [0.9]}})


# --------------------------------------------------------------------------- --help is the metadata
def _actions(command: list[str]) -> dict[str, object]:
    from stickgen_core.cli import build_parser

    parser = build_parser()
    for word in command:
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[word]
    return {opt: a for a in parser._actions for opt in a.option_strings}


def test_curate_help_is_each_fields_metadata():
    from stickgen_core.cli.curate import _CURATE_FLAGS, _CURATE_SWITCHES
    from stickgen_core.curation import CurationConfig

    actions = _actions(["curate"])
    for name in _CURATE_FLAGS + _CURATE_SWITCHES:
        assert actions[f"--{name.replace('_', '-')}"].help == cli_help(CurationConfig, name)
    assert "A value in [0, 1]. (data_curation.min_quality_sft)" in actions["--min-quality-sft"].help


def test_critic_and_jobs_help_and_choices_are_the_metadata():
    from stickgen_core.config import LoraConfig, TrainingConfig
    from stickgen_core.critic_config import SafetyCriticConfig

    critic = _actions(["critic"])
    assert critic["--ground"].help == cli_help(SafetyCriticConfig, "ground")
    assert tuple(critic["--ground"].choices) == choices_of(SafetyCriticConfig, "ground")
    assert critic["--rejection-severity-threshold"].default == SafetyCriticConfig.rejection_severity_threshold
    launch = _actions(["jobs", "launch"])
    assert launch["--epochs"].help == cli_help(TrainingConfig, "epochs")
    assert launch["--lora-dropout"].help == cli_help(LoraConfig, "dropout")
    assert tuple(launch["--stage"].choices) == choices_of(TrainingConfig, "stage")


def test_describe_reads_help_range_choices_and_key():
    from stickgen_core.config import TrainingConfig
    from stickgen_core.critic_config import SafetyCriticConfig

    assert describe(TrainingConfig, "val_fraction") == ("Share of clips held out for validation. A value in [0, 1). "
                                                        "(training.val_fraction)")
    assert describe(SafetyCriticConfig, "ground").endswith("One of auto, zero, estimate. (safety_critic.ground)")
    assert "%%" in cli_help(SafetyCriticConfig, "max_bone_variation")  # argparse formats help with %


def test_config_keys_lists_every_key_with_its_default_and_help(capsys):
    from stickgen_core.cli import main
    from stickgen_core.config import StickGenConfig
    from stickgen_core.config_show import key_reference

    rows = key_reference()
    assert [key for key, _, _ in rows] == [f"{s}.{k}" for s, keys in StickGenConfig().to_dict().items() for k in keys]
    assert all(len(text) >= 10 for _, _, text in rows)
    assert [key for key, _, _ in key_reference("training.warmup")] == ["training.warmup_steps", "training.warmup_epochs"]
    with pytest.raises(ConfigError, match=r"no config key starts with 'trainng' \(sections: model, training, "):
        key_reference("trainng")
    assert main(["config", "keys", "lora.rank"]) == 0
    assert capsys.readouterr().out == ("lora.rank: 8\n    Rank of each adapter (its parameters grow with it). "
                                       "A value in [1, 4096].\n")
    assert main(["config", "keys", "nope"]) == 2
    assert "error: no config key starts with 'nope'" in capsys.readouterr().err
