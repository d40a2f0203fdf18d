"""Thread count per workload: small-op work (a rollout's one-token steps, a one-clip critic call,
annotation batches) takes the CPUs that are free right now: two on an idle machine, one beside a
busy process (a second thread's barriers stall there); the pool is restored."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from stickgen_core.critic import SafetyCritic
from stickgen_core.inference import InferenceGenerator
from stickgen_core.synth import generate_sample
import stickgen_core.threads as threads
from stickgen_core.threads import StepThreads, free_cpus, free_threads, single_thread
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


def test_free_cpus_leaves_out_what_other_processes_keep_busy(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    for others, pool, want in ((0, 2, 2), (1, 2, 1), (5, 2, 1), (0, 1, 1), (None, 2, 1)):
        monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda o=others: o)
        assert free_cpus(pool) == want, (others, pool)


def test_small_op_work_takes_at_most_two_threads_on_a_big_idle_machine(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda: 0)
    assert free_cpus(16) == threads.SMALL_OP_MAX_THREADS == 2


def test_two_blocks_in_one_process_do_not_take_the_same_core(monkeypatch):
    """Annotation in one thread of the studio and a generation in another: the second sees the
    first's claim (its threads are this process's own, so /proc does not count them)."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda: 0)
    inside, release, seen = threading.Event(), threading.Event(), []

    def annotation():
        torch.set_num_threads(2)
        with free_threads():
            seen.append(torch.get_num_threads())
            inside.set()
            release.wait(60)

    t = threading.Thread(target=annotation)
    t.start()
    try:
        assert inside.wait(60)
        assert seen == [2] and free_cpus(2) == 1
    finally:
        release.set()
        t.join()
    assert free_cpus(2) == 2     # the claim ends with its block


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="reads Linux's /proc")
def test_a_busy_neighbour_process_is_seen():
    """The real reading, not a stub: a spinning process shows up as a thread wanting a CPU."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(n >= 1 for n in seen):
            seen.append(threads._running_threads_elsewhere())
            time.sleep(0.01)
        assert seen[-1] is not None and seen[-1] >= 1, seen[-20:]
    finally:
        proc.kill()
        proc.wait()


def test_step_threads_follow_the_free_cpus_mid_loop_and_restore_the_pool(monkeypatch):
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    others = [0]
    monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda: others[0])
    torch.set_num_threads(2)
    during = []
    with StepThreads(every=4) as st:
        for t in range(12):
            if t == 5:
                others[0] = 1     # a neighbour starts mid-rollout
            st.step(t)
            during.append(torch.get_num_threads())
    assert during[:8] == [2] * 8 and during[8:] == [1] * 4
    assert torch.get_num_threads() == 2


def test_generation_steps_and_critic_calls_take_the_free_cpus(tmp_path, monkeypatch):
    gen = InferenceGenerator(train_tiny_checkpoint(tmp_path), encoder=StubEncoder(), device="cpu")
    seen = []
    forward = gen.model.forward

    def spy(*a, **k):
        seen.append(torch.get_num_threads())
        return forward(*a, **k)

    monkeypatch.setattr(gen.model, "forward", spy)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    torch.set_num_threads(2)
    for others, want in ((0, {2}), (1, {1})):
        seen.clear()
        monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda o=others: o)
        gen.generate("A person walks.", seconds=1)
        assert set(seen) == want
        assert torch.get_num_threads() == 2

    import stickgen_core.critic as critic_mod
    counts = []
    real = critic_mod.compute_metrics
    monkeypatch.setattr(critic_mod, "compute_metrics", lambda *a, **k: (counts.append(torch.get_num_threads()), real(*a, **k))[1])
    s = generate_sample(0, seed=1)
    for others in (0, 1):
        monkeypatch.setattr(threads, "_running_threads_elsewhere", lambda o=others: o)
        SafetyCritic().evaluate(s["motion"], s["physics"], s["description"])
    assert counts == [2, 1] and torch.get_num_threads() == 2
