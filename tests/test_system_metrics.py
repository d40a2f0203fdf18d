"""System metrics of a run (stickgen_core.system_metrics): what a sample holds, the file staying
bounded, GPU figures through NVML (a fake module here), the reader's tolerance, and the trainer writing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types

import pytest

from stickgen_core import system_metrics as sm
from stickgen_core.system_metrics import SYSTEM_FILE, SystemSampler, read_system

from .test_train import cfg_with, data_file, run  # noqa: F401 - the tiny training setup and its data fixture


def _clock():
    n = iter(range(10_000))
    return lambda: f"t{next(n)}"


def test_a_sample_counts_the_children_memory(tmp_path):
    sampler = SystemSampler(tmp_path)
    before = sampler.sample()
    assert {"time", "cpu_percent", "rss_mb", "sys_cpu_percent", "sys_mem_percent"} <= set(before)
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; x = bytearray(80 << 20); x[::4096] = b'1' * "
                              "len(x[::4096]); print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ready"
        after = sampler.sample()
    finally:
        child.kill()
        child.wait()
    assert after["rss_mb"] - before["rss_mb"] > 60   # the child's 80 MB count as the run's


def test_the_file_is_thinned_past_max_rows_keeping_the_newest(tmp_path):
    sampler = SystemSampler(tmp_path, interval=1.0, max_rows=4, now=_clock())
    for _ in range(4):
        sampler.record()
    rows = read_system(tmp_path / SYSTEM_FILE)
    assert [r["time"] for r in rows] == ["t0", "t1", "t2", "t3"] and sampler.interval == 1.0   # at the limit: kept
    sampler.record()                                                                          # one past it
    assert [r["time"] for r in read_system(tmp_path / SYSTEM_FILE)] == ["t0", "t2", "t4"]
    assert sampler.interval == 2.0
    # a resumed run continues counting the rows already there
    again = SystemSampler(tmp_path, max_rows=4, now=lambda: "later")
    again.record()
    assert [r["time"] for r in read_system(tmp_path / SYSTEM_FILE)] == ["t0", "t2", "t4", "later"]
    again.record()
    assert [r["time"] for r in read_system(tmp_path / SYSTEM_FILE)] == ["t0", "t4", "later"]


def test_gpus_through_nvml(tmp_path, monkeypatch):
    calls = []

    def handle(i):
        calls.append(i)
        return i

    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlShutdown=lambda: None, nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=handle,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=[87, 3][h]),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=(h + 1) * (1 << 30), total=80 * (1 << 30)))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    row = SystemSampler(tmp_path).sample()
    assert (row["gpu0_util_percent"], row["gpu0_mem_mb"], row["gpu0_mem_total_mb"]) == (87.0, 1024.0, 81920.0)
    assert (row["gpu1_util_percent"], row["gpu1_mem_mb"]) == (3.0, 2048.0) and calls == [0, 1]


def test_no_nvml_on_a_cpu_machine_means_no_gpu_keys(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)     # import fails as without the package
    assert not any(k.startswith("gpu") for k in SystemSampler(tmp_path).sample())


def test_reader_skips_damage_and_stays_bounded(tmp_path):
    path = tmp_path / SYSTEM_FILE
    assert read_system(path) == []                                            # none yet
    path.write_text('{"time": "a", "cpu_percent": 1}\nnot json\n[1, 2]\n{"time": "b"}\n{"time": "c", "cpu')
    assert [r["time"] for r in read_system(path)] == ["a", "b"]               # a line being written is skipped
    path.write_text("".join(json.dumps({"time": str(i), "pad": "x" * 80}) + "\n" for i in range(1000)))
    rows = read_system(path, limit=10_000)
    assert 0 < len(rows) < 120 and rows[-1]["time"] == "999"                  # only the last 10 kB, whole lines
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.jsonl"
        os.mkfifo(fifo)
        assert read_system(fifo) == []                                        # never blocks on a FIFO


def test_the_thread_samples_until_stopped(tmp_path):
    sampler = SystemSampler(tmp_path, interval=0.02).start()
    try:
        deadline = time.monotonic() + 30
        while len(read_system(tmp_path / SYSTEM_FILE)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sampler.stop()
    n = len(read_system(tmp_path / SYSTEM_FILE))
    assert n >= 4 and sampler._thread is None                                 # the rows and one at stop


def test_training_writes_system_metrics(tmp_path, data_file, monkeypatch):  # noqa: F811
    monkeypatch.setattr(sm, "INTERVAL_S", 0.05)
    run(cfg_with(training={"epochs": 2}), data_file, tmp_path / "r")
    rows = read_system(tmp_path / "r" / SYSTEM_FILE)
    assert len(rows) >= 2 and all(r["rss_mb"] > 50 for r in rows)           # the start's row and the end's
    assert rows[-1]["time"] >= rows[0]["time"]


@pytest.mark.parametrize("max_rows", [2, 3])
def test_thinning_never_grows_past_max_rows(tmp_path, max_rows):
    sampler = SystemSampler(tmp_path, max_rows=max_rows, now=_clock())
    for _ in range(50):
        sampler.record()
        assert len(read_system(tmp_path / SYSTEM_FILE)) <= max_rows
