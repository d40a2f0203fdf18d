"""The compiled frame step (``compile_step`` / ``--compile``): the eager rollout's clips, one compilation
for every clip length, and the eager step with a note where it cannot compile."""

from pathlib import Path

import pytest
import torch

from stickgen_core.config import load_config
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import load_dataset
from stickgen_core.model import StickFigureTransformer
from stickgen_core.model.action_plan import CHECKPOINT_KEY as PLANNER_KEY
from stickgen_core.model.action_plan import ActionPlanner, PlannerShape
from stickgen_core.model.static_rollout import CompiledRollout
from stickgen_core.train.checkpoint import save_checkpoint
from tests.test_inference_eval import DIM, StubEncoder

TINY = {"d_model": 64, "n_layers": 2, "n_heads": 4, "ffn_dim": 128}
# every input the step builds: adaLN text, root-relative poses, the clock, kept bones (and guidance)
FULL = {**TINY, "text_conditioning": "adaln", "root_relative": True, "time_conditioning": True,
        "keep_bone_lengths": True}


def random_checkpoint(root: Path, model: dict, name: str, planner: bool = False) -> Path:
    """A model with random weights large enough to move every output (an untrained pose head is zero);
    ``planner``: with a random text -> action plan, which then decides the action inputs."""
    cfg = load_config("configs/small.yaml", overrides={"model": model, "training": {"text_dropout": 0.1}})
    torch.manual_seed(0)
    net = StickFigureTransformer(cfg.model, DIM)
    for p in net.parameters():
        p.data.normal_(0.0, 0.05)
    ck = {"epoch": 0, "global_step": 0, "config": cfg.to_dict(), "embedding_dim": DIM,
          "model_state_dict": net.state_dict()}
    if planner:
        plan = ActionPlanner(PlannerShape(DIM, cfg.model.num_actions, bins=8, hidden=32))
        for p in plan.parameters():
            p.data.normal_(0.0, 1.0)
        ck[PLANNER_KEY] = plan.to_checkpoint()
    path = root / f"{name}.pth"
    save_checkpoint(path, ck)
    return path


@pytest.mark.parametrize("model,weights", [(TINY, "float32"), (FULL, "int8")], ids=["prefix-float32", "full-int8"])
def test_the_compiled_step_generates_the_eager_step_s_clip(tmp_path, model, weights):
    ck = random_checkpoint(tmp_path, model, "m")
    eager = InferenceGenerator(ck, encoder=StubEncoder(), weights=weights)
    fast = InferenceGenerator(ck, encoder=StubEncoder(), weights=weights, compile_step=True)
    assert fast.guidance_scale == (2.0 if model is FULL else 0.0)  # the full model runs guided: two row sets
    for temperature in (0.0, 0.2):
        a = eager.generate("A person waves.", seconds=2, seed=1, temperature=temperature)
        b = fast.generate("A person waves.", seconds=2, seed=1, temperature=temperature)
        assert (a["step"], b["step"], b["notes"]) == ("eager", "compiled", [])
        assert a["motion"].std() > 0.01   # a clip that moves, so agreeing means something
        assert (a["motion"] - b["motion"]).abs().max() <= 1e-4   # float rounding (measured ~4e-6)
        assert torch.equal(a["actions"], b["actions"])
    # a batch of clips of different lengths, each as long as asked
    many_a = eager.generate_many(["A person waves.", "A person jumps."], [30, 45], seed=2)
    many_b = fast.generate_many(["A person waves.", "A person jumps."], [30, 45], seed=2)
    assert [len(m) for m in many_b] == [30, 45]
    assert max((x - y).abs().max().item() for x, y in zip(many_a, many_b)) <= 1e-4


@pytest.mark.parametrize("planner", [False, True], ids=["own-actions", "planned-actions"])
def test_one_compilation_serves_every_clip_length(tmp_path, planner):
    from torch._dynamo.utils import counters

    ck = random_checkpoint(tmp_path, TINY, "m", planner=planner)
    gen = InferenceGenerator(ck, encoder=StubEncoder(), compile_step=True)
    assert (gen.planner is not None) == planner
    gen.generate("A person waves.", seconds=1.2)
    graphs = counters["stats"]["unique_graphs"]
    for seconds in (2.0, 3.6, 0.4):
        assert gen.generate("A person waves.", seconds=seconds)["step"] == "compiled"
    assert counters["stats"]["unique_graphs"] == graphs
    # a one-frame clip never reaches the frame step: it says so
    assert gen.generate("A person waves.", seconds=0.04)["step"] == "eager"


def test_generations_on_two_threads_both_stay_compiled_and_right(tmp_path):
    """torch's guard-skipping stance is process-wide: a rollout on one thread made another thread's first,
    checked frames skip their guards too, and its new graph became an error (and the eager step for good)."""
    import threading

    full = random_checkpoint(tmp_path, FULL, "full")
    eager = {k: InferenceGenerator(full, encoder=StubEncoder(), **kw)
             for k, kw in (("a", {}), ("b", {"guidance_scale": 0.0, "keep_bone_lengths": False}))}
    fast = {k: InferenceGenerator(full, encoder=StubEncoder(), compile_step=True,
                                  **({} if k == "a" else {"guidance_scale": 0.0, "keep_bone_lengths": False}))
            for k in eager}
    want = {k: g.generate("A person waves.", seconds=4, seed=1)["motion"] for k, g in eager.items()}
    fast["a"].generate("A person waves.", seconds=1)   # a's graph compiled; b's is compiled while a rolls out
    got: dict[str, list] = {"a": [], "b": []}
    a_inside, b_done = threading.Event(), threading.Event()
    step, calls = fast["a"].compiled._step, []

    def a_pauses_mid_clip(*args):   # a's fifth frame (guards skipped) waits while b starts (at most 5 s)
        calls.append(1)
        if len(calls) == 5:
            a_inside.set()
            b_done.wait(timeout=5)
        return step(*args)

    fast["a"].compiled._step = a_pauses_mid_clip

    def work_a() -> None:
        got["a"].append(fast["a"].generate("A person waves.", seconds=4, seed=1))

    def work_b() -> None:
        try:
            a_inside.wait(timeout=60)
            for _ in range(2):
                got["b"].append(fast["b"].generate("A person waves.", seconds=4, seed=1))
        finally:
            b_done.set()

    threads = [threading.Thread(target=work_a), threading.Thread(target=work_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a_inside.is_set() and len(got["a"]) == 1 and len(got["b"]) == 2
    for k, outs in got.items():
        assert [(o["step"], o["notes"]) for o in outs] == [("compiled", [])] * len(outs), k
        assert max((o["motion"] - want[k]).abs().max().item() for o in outs) <= 1e-4


def test_where_it_cannot_compile_the_eager_step_generates_and_says_why(tmp_path, monkeypatch):
    ck = random_checkpoint(tmp_path, FULL, "m")
    want = InferenceGenerator(ck, encoder=StubEncoder()).generate("A person waves.", seconds=1.6, seed=4,
                                                                 temperature=0.1)

    def no_compiler(*_a, **_k):
        raise RuntimeError("Failed to find C++ compiler. Please specify via CXX environment variable.")

    monkeypatch.setattr(CompiledRollout, "rollout", no_compiler)
    gen = InferenceGenerator(ck, encoder=StubEncoder(), compile_step=True)
    got = gen.generate("A person waves.", seconds=1.6, seed=4, temperature=0.1)
    assert got["step"] == "eager"
    assert got["notes"] == [("the compiled step failed (RuntimeError: Failed to find C++ compiler. Please specify via "
                             "CXX environment variable.): generated with the eager step")]
    assert torch.equal(got["motion"], want["motion"])    # the same noise drawn: the same clip
    assert gen.generate("A person waves.", seconds=1)["notes"] == []   # said once, then eager quietly


def test_generate_compile_on_the_command_line(tmp_path, capsys, monkeypatch):
    from stickgen_core import inference
    from stickgen_core.cli import main

    ck = random_checkpoint(tmp_path, TINY, "m")
    monkeypatch.setattr(inference, "InferenceGenerator",
                        lambda *a, **k: InferenceGenerator(*a, **k, encoder=StubEncoder()))
    for extra, out in (([], "a.pt"), (["--compile"], "b.pt")):
        assert main(["generate", "A person waves.", "--checkpoint", str(ck), "--seconds", "1.2",
                     "--out", str(tmp_path / out), *extra]) == 0
    assert "note:" not in capsys.readouterr().out
    a, b = load_dataset(tmp_path / "a.pt")[0], load_dataset(tmp_path / "b.pt")[0]
    assert (a["motion"] - b["motion"]).abs().max() <= 1e-4


def test_without_inductor_s_cpp_wrapper_it_compiles_with_the_python_one(tmp_path):
    """The C++ wrapper (the fast one) also needs Python's headers: a machine without them still gets a
    compiled step, not the eager one."""
    ck = random_checkpoint(tmp_path, TINY, "m")
    want = InferenceGenerator(ck, encoder=StubEncoder()).generate("A person waves.", seconds=1.6, seed=4,
                                                                 temperature=0.1)
    gen = InferenceGenerator(ck, encoder=StubEncoder(), compile_step=True)

    def no_headers(*_a, **_k):
        raise RuntimeError("fatal error: Python.h: No such file or directory")

    gen.compiled._step = no_headers
    got = gen.generate("A person waves.", seconds=1.6, seed=4, temperature=0.1)
    assert (got["step"], got["notes"], gen.compiled.cpp_wrapper) == ("compiled", [], False)
    assert (got["motion"] - want["motion"]).abs().max() <= 1e-4   # the same noise drawn again
