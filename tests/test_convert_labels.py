"""Labels from a dataset's own conventions: file-name patterns, sidecars, --describe templates,
the action synonym table and BABEL-style frame labels (no ../shared needed)."""

import json

import numpy as np
import pytest
import torch

from stickgen_core.convert import convert_file
from stickgen_core.convert.labels import (Labels, clip_labels, compile_name_pattern, describe, frame_actions,
                                          label_sample, labels_from_name, map_action)
from stickgen_core.errors import ConfigError, DatasetError
from stickgen_core.schema import ACTION_INDEX, ACTIONS

from .dataset_layouts import walk_3d, write_positions_bvh


@pytest.mark.parametrize("label, action", [
    ("dash", "run"), ("bye", "wave"), ("byebye", "wave"), ("walk-back", "walk"), ("walking", "walk"),
    ("dashes", "run"), ("standing up (from sitting position)", "stand_up"), ("sitting down", "sit"),
    ("hand waving", "wave"), ("running on the spot", "run"), ("high-five", "high_five"), ("jump up", "jump"),
    ("hopping (one foot jumping)", "jump"), ("kicking other person", "kick"), ("Idling", "idle"),
    ("bow", "unknown"), ("take off a shoe", "unknown"), ("", "unknown"),
])
def test_source_words_map_onto_our_vocabulary(label, action):
    assert map_action(label) == action


def test_template_pattern_reads_the_fields_of_a_file_name(tmp_path):
    lab = labels_from_name(tmp_path / "dataset-1_walk-back_not-confident_003.bvh", "{_}_{action}_{style}_{take}")
    assert (lab.label, lab.style, lab.fields["take"], lab.action) == ("walk-back", "not-confident", "003", "walk")
    rx = labels_from_name(tmp_path / "S2_dash_happy.bvh", r"^S\d+_(?P<action>[a-z]+)_(?P<style>\w+)$")
    assert (rx.action, rx.style) == ("run", "happy")


def test_a_name_the_pattern_does_not_match_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"odd\.bvh: file name 'odd' does not match --name-pattern"):
        labels_from_name(tmp_path / "odd.bvh", "{_}_{action}_{style}")


@pytest.mark.parametrize("bad", ["{action", "{_}_{x}_{x}", "{}_{style}", "no_fields_here", "(?P<a>[)", "{action:>3}"])
def test_a_bad_name_pattern_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="--name-pattern"):
        compile_name_pattern(bad)


def test_describe_templates_fill_from_the_labels(tmp_path):
    lab = Labels(label="bye", style="happy", fields={"take": "001"})
    p = tmp_path / "x_bye_happy_001.bvh"
    assert describe(lab, "a person {action}s in a {style} way", p) == "a person waves in a happy way"
    assert describe(lab, "{verb} ({label}, take {take}, {name})", p) == "waves (bye, take 001, x_bye_happy_001)"
    assert describe(lab, "plain text", p) == "plain text"
    assert describe(lab, None, p) == "a person waves in a happy way"
    assert describe(Labels(label="bow"), "a person {action}s", p) == "a person bows"  # unknown: the source's word
    with pytest.raises(DatasetError, match=r"x_bye_happy_001\.bvh: --describe names \{mood\}"):
        describe(lab, "a {mood} person", p)


def test_sidecars_are_stronger_than_the_name_and_the_dataset(tmp_path):
    p = tmp_path / "a_walk_sad_1.bvh"
    base = Labels(label="dance", style="x", description="dataset text")
    assert clip_labels(p, "{_}_{action}_{style}_{take}", base).label == "walk"
    (tmp_path / "a_walk_sad_1.txt").write_text("\n  a sad walk home#tokens#0#0\n")
    assert clip_labels(p, None, base).description == "a sad walk home"
    (tmp_path / "a_walk_sad_1.json").write_text(json.dumps({"action": "dash", "style": "angry"}))
    lab = clip_labels(p, "{_}_{action}_{style}_{take}", base)
    assert (lab.action, lab.style, lab.description) == ("run", "angry", "a sad walk home")


def test_a_broken_json_sidecar_names_the_file(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"c\.json: not a JSON file"):
        clip_labels(tmp_path / "c.bvh")
    (tmp_path / "c.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DatasetError, match=r"c\.json: JSON nested 100,000 levels deep"):
        clip_labels(tmp_path / "c.bvh")
    (tmp_path / "c.json").write_text('{"action": ["walk"], "style": {"x": 1}, "seq_ann": {"labels": ["odd"]}}')
    lab = clip_labels(tmp_path / "c.bvh")  # values that are no words are no labels
    assert lab.label is None and lab.style is None


def test_babel_frame_labels_give_actions_per_frame_at_the_boundaries(tmp_path):
    (tmp_path / "seq.json").write_text(json.dumps({"frame_ann": {"labels": [
        {"proc_label": "walk", "start_t": 0.0, "end_t": 1.0},
        {"raw_label": "dash", "start_t": 1.5, "end_t": 2.0},
        {"act_cat": ["wave"], "start_t": 1.6, "end_t": 1.7}]}}))
    lab = clip_labels(tmp_path / "seq.bvh")
    acts = frame_actions(lab, 60)
    names = [ACTIONS[a] for a in acts]
    assert names[24] == "walk" and names[25] == "unknown"        # 0.96 s in, 1.00 s out (end is exclusive)
    assert names[37] == "unknown" and names[38] == "run"         # 1.48 s out, 1.52 s in
    assert names[40] == "wave" and names[42] == "wave" and names[43] == "run"  # the later-starting label wins
    assert names[50] == "unknown"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"segments": [{"start": 2, "end": 1, "action": "walk"}]}))
    with pytest.raises(DatasetError, match=r"bad\.json: frame label 0: expected a label and end > start"):
        clip_labels(tmp_path / "bad.bvh")


def test_label_sample_sets_actions_meta_and_keeps_unlabelled_clips(tmp_path):
    s = {"description": "d", "actions": torch.full((50, 2), ACTION_INDEX["idle"]), "meta": {"fps": 25}}
    out = label_sample(s, Labels(label="bow", style="proud"), None, tmp_path / "f.bvh")
    assert (out["actions"] == ACTION_INDEX["unknown"]).all() and out["actions"].shape == (50, 2)
    assert out["meta"]["action_label"] == "bow" and out["meta"]["style"] == "proud"
    kept = label_sample(s, Labels(), None, tmp_path / "f.bvh")
    assert (kept["actions"] == ACTION_INDEX["idle"]).all() and kept["description"] == "motion capture: f"


def test_bvh_converts_with_a_name_pattern_a_template_and_frame_labels(tmp_path):
    f = write_positions_bvh(tmp_path / "dataset-1_dash_happy_001.bvh", walk_3d(3.0, 30), 30)
    (s,) = convert_file(f, "bvh", describe="a person {action}s in a {style} way",
                        name_pattern="{_}_{action}_{style}_{take}")
    assert s["description"] == "a person runs in a happy way"
    assert s["meta"]["action_label"] == "dash" and s["meta"]["labels"]["take"] == "001"
    assert (s["actions"] == ACTION_INDEX["run"]).all()
    f.with_suffix(".json").write_text(json.dumps({"segments": [{"start": 0, "end": 1, "label": "bye"}]}))
    (s,) = convert_file(f, "bvh", name_pattern="{_}_{action}_{style}_{take}")
    acts = s["actions"].numpy()
    assert acts[0] == ACTION_INDEX["wave"] and acts[24] == ACTION_INDEX["wave"] and acts[25] == ACTION_INDEX["run"]
    assert np.unique(acts).size == 2 and s["meta"]["frame_labels"][0]["action"] == "wave"
