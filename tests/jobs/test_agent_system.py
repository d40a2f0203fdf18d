"""System metrics of a pod's run: the agent serves system.jsonl (never through a link), the client reads
it, and RunPodBackend.sync_system copies it home only when it changed."""

from __future__ import annotations

import json
import threading

import pytest

from stickgen_core.jobs.agent import serve
from stickgen_core.jobs.agent_client import AgentClient
from stickgen_core.jobs.runpod_backend import RunPodBackend
from stickgen_core.system_metrics import SYSTEM_FILE, read_system

TOKEN = "agent-token-5ea1"
ROWS = [{"time": "2026-01-01T00:00:00+00:00", "cpu_percent": 101.0, "gpu0_util_percent": 87.0},
        {"time": "2026-01-01T00:00:05+00:00", "cpu_percent": 99.0, "gpu0_util_percent": 91.0}]


@pytest.fixture
def pod(tmp_path):
    root = tmp_path / "pod" / "runs" / "r1"
    root.mkdir(parents=True)
    (root / "status.json").write_text(json.dumps({"state": "running"}))
    server = serve(root, 0, token=TOKEN, host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN)
    server.shutdown()
    server.server_close()


def test_agent_serves_system_rows_and_never_a_link(pod, tmp_path):
    root, client = pod
    assert client.system() == []                                  # not sampled yet
    (root / SYSTEM_FILE).write_text("".join(json.dumps(r) + "\n" for r in ROWS) + '{"time": "cut')
    assert client.system() == ROWS                                # the line being written is left out
    secret = tmp_path / "elsewhere.jsonl"
    secret.write_text(json.dumps({"time": "x", "secret": "not the run's"}) + "\n")
    (root / SYSTEM_FILE).unlink()
    (root / SYSTEM_FILE).symlink_to(secret)
    assert client.system() == []                                  # a link may lead anywhere on the pod


def test_runpod_backend_copies_it_home_when_changed(pod, tmp_path, monkeypatch):
    root, client = pod
    local = tmp_path / "ws" / "runs" / "r1"
    local.mkdir(parents=True)
    monkeypatch.setattr(RunPodBackend, "_agent_up", lambda self, run: True)
    monkeypatch.setattr(RunPodBackend, "client", lambda self, run: client)
    run = type("Rec", (), {"root": local})()
    backend = RunPodBackend.__new__(RunPodBackend)
    backend.sync_system(run)
    assert not (local / SYSTEM_FILE).exists()                     # nothing on the pod: nothing written
    (root / SYSTEM_FILE).write_text(json.dumps(ROWS[0]) + "\n")
    backend.sync_system(run)
    assert read_system(local / SYSTEM_FILE) == ROWS[:1]
    before = (local / SYSTEM_FILE).stat().st_mtime_ns, (local / SYSTEM_FILE).stat().st_ino
    backend.sync_system(run)                                      # unchanged: the file is left alone
    assert ((local / SYSTEM_FILE).stat().st_mtime_ns, (local / SYSTEM_FILE).stat().st_ino) == before
    (root / SYSTEM_FILE).write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    backend.sync_system(run)
    assert read_system(local / SYSTEM_FILE) == ROWS
