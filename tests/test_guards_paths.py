"""Path containment: a sibling folder whose name starts like ours (``/out`` vs ``/out2``) and a
symlink that leads out are outside, whatever a string-prefix comparison would say."""

from __future__ import annotations

import os

import pytest

from stickgen_core.errors import DatasetError
from stickgen_core.paths import inside


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / "out"
    (base / "motions").mkdir(parents=True)
    (tmp_path / "out2").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", base / "link_out")
    os.symlink(base / "motions", base / "link_in")
    return base


@pytest.mark.parametrize("parts", [("..", "out2", "a.pt"), ("../out2/a.pt",), ("link_out", "a.pt"),
                                   ("link_out",), ("..",), ("/tmp/a.pt",), ("motions", "..", "..", "out2")])
def test_inside_refuses_siblings_symlinks_out_and_absolute_paths(tree, parts):
    with pytest.raises(DatasetError, match="resolves outside"):
        inside(tree, *parts)


@pytest.mark.parametrize("parts", [("motions", "a.pt"), ("link_in", "a.pt"), ("motions", "..", "b.pt"), ("new", "c.pt")])
def test_inside_accepts_what_stays_inside_symlinks_included(tree, parts):
    assert inside(tree, *parts) == tree.joinpath(*parts)


def test_inside_a_folder_given_through_a_symlink(tree, tmp_path):
    """The folder itself may be a symlink: what resolves into its target is inside."""
    alias = tmp_path / "alias"
    os.symlink(tree, alias)
    assert inside(alias, "motions", "a.pt") == alias / "motions" / "a.pt"
    with pytest.raises(DatasetError):
        inside(alias, "..", "out2", "a.pt")


class _FakeGenerator:
    """Stands in for InferenceGenerator: a still two-second figure for any prompt."""

    enable_safety_check = True
    guidance_scale = 1.0

    def __init__(self):
        from stickgen_core.critic import SafetyCritic

        self.critic = SafetyCritic()

    def resolve_guidance(self, guidance_scale, notes):
        return self.guidance_scale

    def generate(self, text, seconds=2.0, seed=0):
        from stickgen_core.synth import SynthConfig, generate_sample

        s = generate_sample(0, seed=1, config=SynthConfig(multi_actor_rate=0.0, min_seconds=2, max_seconds=2))
        return {"prompt": text, "motion": s["motion"], "actions": s["actions"], "physics": s["physics"],
                "checkpoint": "fake", "notes": [], "fps": 25.0, "seconds": 2.0, "is_safe": True,
                "safety": {"overall_score": 1.0, "issues": []}}


@pytest.fixture
def suites_file(tmp_path):
    path = tmp_path / "suites.yaml"
    path.write_text("version: 1\nsuites:\n  robustness_baseline:\n    description: d\n    prompts:\n"
                    "      - {id: walk_1, text: A person walks., seconds: 2}\n", encoding="utf-8")
    return path


def test_the_adversarial_runner_saves_motions_inside_its_output(tmp_path, suites_file):
    from stickgen_core.evaluation.adversarial import run_adversarial_eval

    out = tmp_path / "eval"
    report = run_adversarial_eval("fake.pth", output_dir=out, suites_path=suites_file, generator=_FakeGenerator())
    assert (out / "motions" / "robustness_baseline" / "walk_1.pt").is_file()
    assert report["results"][0]["motion_path"].startswith(str(out / "motions"))


def test_the_adversarial_runner_refuses_a_suite_folder_that_is_a_symlink_out(tmp_path, suites_file):
    from stickgen_core.evaluation.adversarial import run_adversarial_eval

    out = tmp_path / "eval"
    elsewhere = out / "motions2"   # a sibling whose name starts like the motions folder's
    (out / "motions").mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "motions" / "robustness_baseline")
    with pytest.raises(DatasetError, match="resolves outside"):
        run_adversarial_eval("fake.pth", output_dir=out, suites_path=suites_file, generator=_FakeGenerator())
    assert os.listdir(elsewhere) == []
