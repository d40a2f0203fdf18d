"""The run agent: token required, incremental metrics, checkpoint download with SHA-256, upload
with checksum, stop; and the pod entrypoint run locally (no Docker) with the agent on a tiny run."""

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import torch

from stickgen_core.errors import AgentError
from stickgen_core.jobs.agent import serve
from stickgen_core.jobs.agent_client import AgentClient
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import write_json

from .helpers import wait_for

TOKEN = "agent-token-3b9f"


@pytest.fixture
def run_dir(tmp_path):
    root = tmp_path / "ws" / "runs" / "r1"
    (root / "checkpoints").mkdir(parents=True)
    write_json(root / "status.json", {"state": "running", "epoch": 0, "global_step": 3})
    (root / "metrics.jsonl").write_text("".join(json.dumps({"type": "step", "step": i}) + "\n" for i in range(5)))
    (root / "train.log").write_text("".join(f"line {i}\n" for i in range(100)))
    (root / "checkpoints" / "model_checkpoint_best.pth").write_bytes(os.urandom(3 << 20))
    return root


@pytest.fixture
def agent(run_dir):
    server = serve(run_dir, 0, token=TOKEN, host="127.0.0.1")
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield AgentClient(f"http://127.0.0.1:{server.server_address[1]}", TOKEN), server
    server.shutdown()
    server.server_close()


def test_no_token_or_wrong_token_is_401(agent):
    client, _ = agent
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
        req = urllib.request.Request(f"{client.base_url}/status", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 401
    with pytest.raises(AgentError, match="401") as err:
        AgentClient(client.base_url, "wrong").metrics(0)
    assert "wrong" not in str(err.value)
    assert client.status()["status"]["state"] == "running"


def test_metrics_from_an_offset(agent, run_dir):
    client, _ = agent
    rows, nxt = client.metrics(0)
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4] and nxt == 5
    with open(run_dir / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"type": "step", "step": 5}) + "\n" + '{"type": "step", "st')  # a line mid-write
    rows, nxt = client.metrics(5)
    assert [r["step"] for r in rows] == [5] and nxt == 6
    with open(run_dir / "metrics.jsonl", "a") as fh:
        fh.write('ep": 6}\n')
    assert client.metrics(6) == ([{"type": "step", "step": 6}], 7)
    assert client.metrics(7) == ([], 7)
    assert client.log(3) == ["line 97", "line 98", "line 99"]


def test_checkpoint_download_matches_its_sha256(agent, run_dir, tmp_path):
    client, _ = agent
    dest = tmp_path / "got.pth"
    digest = client.download("model_checkpoint_best.pth", dest)
    original = (run_dir / "checkpoints" / "model_checkpoint_best.pth").read_bytes()
    assert digest == hashlib.sha256(original).hexdigest() and dest.read_bytes() == original
    with pytest.raises(AgentError, match="404"):
        client.download("../status.json", tmp_path / "x")


def test_upload_is_checksum_verified(agent, run_dir, tmp_path):
    client, server = agent
    src = tmp_path / "sft_data.pt"
    src.write_bytes(os.urandom(2 << 20))
    info = client.upload(src, "curated/sft_data.pt")
    landed = server.data_dir / "curated" / "sft_data.pt"
    assert landed.read_bytes() == src.read_bytes() and info["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    req = urllib.request.Request(f"{client.base_url}/upload?path=bad.pt", data=b"abc", method="PUT",
                                 headers={"Authorization": f"Bearer {TOKEN}", "X-SHA256": "0" * 64})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400 and "checksum mismatch" in err.value.read().decode()
    assert not (server.data_dir / "bad.pt").exists() and not list(server.data_dir.glob(".bad.pt*"))
    with pytest.raises(AgentError, match="inside the data folder"):
        client.upload(src, "../../escape.pt")


def test_stop_sends_sigterm_to_the_supervisor(agent, run_dir):
    client, _ = agent
    # the run's own: its command line runs stickgen's pipeline on this folder
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "stickgen_core.jobs.pipeline",
                             str(run_dir)])
    write_json(run_dir / "job_state.json", {"supervisor": ProcessRef.of(proc.pid).to_dict()})
    assert client.stop()["stopping"] is True
    assert proc.wait(timeout=60) == -signal.SIGTERM


def test_stop_refuses_a_process_the_run_does_not_own(agent, run_dir):
    client, _ = agent
    stranger = subprocess.Popen(["sleep", "600"])  # the user's own, unrelated process
    try:
        write_json(run_dir / "job_state.json", {"supervisor": ProcessRef.of(stranger.pid).to_dict()})
        with pytest.raises(AgentError, match=rf"HTTP 400: .*process {stranger.pid} \(sleep\) is not this run's"):
            client.stop()
        time.sleep(0.2)
        assert stranger.poll() is None  # still alive: nothing was sent
    finally:
        stranger.kill()
        stranger.wait()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_entrypoint_runs_locally_with_the_agent(tmp_path, tiny_spec, tiny_data):
    vol = tmp_path / "runpod-volume"
    port = _free_port()
    spec = tiny_spec(backend="runpod", backend_settings={})
    env = {**os.environ, "STICKGEN_RUN_ID": "pod-run", "STICKGEN_RUN_DIR": str(vol / "runs" / "pod-run"),
           "STICKGEN_JOB": json.dumps(spec.to_dict()), "TRAIN_DATA_PATH": str(tiny_data), "MODEL_VARIANT": "small",
           "STICKGEN_AGENT_TOKEN": TOKEN, "STICKGEN_AGENT_PORT": str(port), "STICKGEN_AGENT_HOST": "127.0.0.1",
           "STICKGEN_DATA_DIR": str(vol / "data"), "AGENT_LINGER_SECONDS": "600", "USE_LORA": "false"}
    proc = subprocess.Popen(["nice", "-n", "15", sys.executable, "-m", "stickgen_core.cli", "runpod-entrypoint"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        client = AgentClient(f"http://127.0.0.1:{port}", TOKEN)

        def metrics():
            try:
                return client.metrics(0)[1] >= 3
            except AgentError:
                return False
        wait_for(metrics, "metrics through the agent")
        wait_for(lambda: "model_checkpoint_best.pth" in client.status()["checkpoints"], "a best checkpoint")
        dest = tmp_path / "best.pth"
        client.download("model_checkpoint_best.pth", dest)
        ck = torch.load(dest, weights_only=True)
        assert ck["stage"] == "pretrain" and ck["config"]["model"]["d_model"] == 32
        client.stop()
        wait_for(lambda: client.status()["status"]["state"] == "stopped", "stopped through the agent")
        run_json = json.loads((vol / "runs" / "pod-run" / "run.json").read_text())
        assert run_json["job"]["backend"] == "runpod" and run_json["data_path"] == str(tiny_data)
        proc.send_signal(signal.SIGTERM)  # the pod stops: the entrypoint ends its linger
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
