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
    asked = []
    monkeypatch.setattr(RunPodBackend, "client", lambda self, run: asked.append(1) or client)
    monkeypatch.setattr(RunPodBackend, "check_pod", lambda self, run: pytest.fail("the system sync asked the API"))
    view = {"job": {"agent_url": "http://pod"}, "status": {"phase": "provisioning"}}
    run = type("Rec", (), {"root": local, "job_state": lambda self: view["job"], "raw_status": lambda self: view["status"]})()
    backend = RunPodBackend.__new__(RunPodBackend)
    (root / SYSTEM_FILE).write_text(json.dumps(ROWS[0]) + "\n")
    backend.sync_system(run)                                      # the pod is still starting: its agent is not asked
    view["status"] = {"phase": None}
    view["job"] = {"agent_url": "http://pod", "terminated": True}
    backend.sync_system(run)                                      # a terminated pod is not asked either
    assert not asked and not (local / SYSTEM_FILE).exists()
    view["job"] = {"agent_url": "http://pod"}
    (root / SYSTEM_FILE).unlink()
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
