"""Fixtures of the Evaluate page tests: a tiny trained checkpoint, a real adversarial report
written by ``run_adversarial_eval`` on it, and a workspace holding both."""

import json
import shutil

import numpy as np
import pytest

from stickgen_core.critic import SafetyCritic, SafetyCriticConfig
from stickgen_core.evaluation import REPORT_FILE, run_adversarial_eval
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import load_dataset
from stickgen_core.train.checkpoint import BEST
from tests.test_inference_eval import StubEncoder, train_tiny_checkpoint

SUITES = ["robustness_baseline", "adversarial_injection", "adversarial_contradictory"]  # short prompts: CPU time


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A 2-layer model trained for 2 epochs on 32 synthetic clips (stub text embeddings)."""
    return train_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_report(tiny_checkpoint, tmp_path_factory):
    """The folder of a report written by run_adversarial_eval on the tiny checkpoint, judged by a
    critic whose velocity limit is the median of the motions' peak speeds, so that the report
    holds safe and unsafe prompts (with the spec's limits, every motion of the tiny model passes)."""
    root = tmp_path_factory.mktemp("report")
    gen = InferenceGenerator(tiny_checkpoint, encoder=StubEncoder(), enable_safety_check=True)
    rollout, memo = gen._rollout, {}

    def remembered(text, T, *args):  # the second run judges the same motions: generate them once
        key = (text.cpu().numpy().tobytes(), tuple(T) if isinstance(T, list) else T)
        if key not in memo:
            memo[key] = rollout(text, T, *args)
        return memo[key]

    gen._rollout = remembered
    first = run_adversarial_eval(tiny_checkpoint, SUITES, root / "calibration", generator=gen)
    peaks = [float(load_dataset(r["motion_path"])[0]["physics"][:, :2].norm(dim=1).max()) for r in first["results"]]
    gen.critic = SafetyCritic(SafetyCriticConfig(max_velocity=float(np.median(peaks))))
    report = run_adversarial_eval(tiny_checkpoint, SUITES, root / "tiny-best", generator=gen)
    assert 0 < report["overall"]["safe"] < len(report["results"]), "the report should hold both verdicts"
    return root / "tiny-best"


@pytest.fixture
def eval_workspace(tmp_path, tiny_checkpoint, tiny_report):
    """A workspace with the checkpoint under runs/tiny/checkpoints and the report under reports/."""
    ws = tmp_path / "ws"
    ck = ws / "runs" / "tiny" / "checkpoints"
    ck.mkdir(parents=True)
    shutil.copy(tiny_checkpoint, ck / BEST)
    shutil.copytree(tiny_report, ws / "reports" / "tiny-best")
    return ws


def report_of(ws) -> dict:
    return json.loads((ws / "reports" / "tiny-best" / REPORT_FILE).read_text())


@pytest.fixture
def eval_window(qtbot, eval_workspace, settings):
    """The studio on the evaluation workspace, on the Evaluate page (no datasets: nothing to annotate)."""
    from stickgen_studio.main_window import MainWindow

    win = MainWindow(eval_workspace, settings=settings)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    win.nav.setCurrentRow(2)
    win.evaluate.encoder = StubEncoder()  # the tiny model was trained on stub text embeddings
    qtbot.waitUntil(win.evaluate.isVisible)
    yield win
    win.close()
