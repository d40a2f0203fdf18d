"""Thread count per workload: one-token generation steps and one-clip critic calls run on one
thread (a second only adds barriers that stall beside a busy process), and the pool is restored."""

import threading

import torch

from stickgen_core.critic import SafetyCritic
from stickgen_core.inference import InferenceGenerator
from stickgen_core.synth import generate_sample
from stickgen_core.threads import SMALL_OP_WORK, single_thread, threads_for
from tests.test_inference_eval import StubEncoder, train_tiny_checkpoint


def test_single_thread_restores_the_pool_after_nesting_and_errors():
    torch.set_num_threads(2)
    with single_thread():
        assert torch.get_num_threads() == 1
        with single_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1  # the inner block does not restore early
    assert torch.get_num_threads() == 2
    try:
        with single_thread():
            raise ValueError
    except ValueError:
        pass
    assert torch.get_num_threads() == 2


def test_a_block_in_another_python_thread_leaves_this_threads_count_alone():
    torch.set_num_threads(2)
    seen = []

    def other():
        with single_thread():
            seen.append(torch.get_num_threads())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [1] and torch.get_num_threads() == 2


def test_only_small_work_is_pinned_to_one_thread():
    torch.set_num_threads(2)
    with threads_for(SMALL_OP_WORK * 10):
        assert torch.get_num_threads() == 2
    with threads_for(SMALL_OP_WORK / 10):
        assert torch.get_num_threads() == 1


def test_generation_steps_and_critic_calls_run_on_one_thread(tmp_path, monkeypatch):
    gen = InferenceGenerator(train_tiny_checkpoint(tmp_path), encoder=StubEncoder(), device="cpu")
    seen = []
    forward = gen.model.forward

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return forward(*a, **k)

    monkeypatch.setattr(gen.model, "forward", spy)
    torch.set_num_threads(2)
    gen.generate("A person walks.", seconds=1)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == 2

    import stickgen_core.critic as critic_mod
    counts = []
    real = critic_mod.compute_metrics
    monkeypatch.setattr(critic_mod, "compute_metrics", lambda *a, **k: (counts.append(torch.get_num_threads()), real(*a, **k))[1])
    s = generate_sample(0, seed=1)
    SafetyCritic().evaluate(s["motion"], s["physics"], s["description"])
    assert counts == [1] and torch.get_num_threads() == 2
