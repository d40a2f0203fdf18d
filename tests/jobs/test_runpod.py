"""RunPodBackend against a GraphQL server of our own on 127.0.0.1 (RUNPOD_API_BASE_URL).

No test here sends traffic anywhere but loopback, and no real pod can be launched: the base URL
always points at the fake, and the API key is a made-up string.
"""

import json

import pytest

from stickgen_core.errors import RunPodError
from stickgen_core.jobs import launch, resume_run
from stickgen_core.jobs.runpod_backend import RunPodBackend, escape_env

from .fake_runpod import FakeRunPod

KEY = "rp-test-key-7d1f0c9b5e3a"


@pytest.fixture
def fake(monkeypatch):
    with FakeRunPod(KEY) as server:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", server.url)
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("HOME", "/nonexistent")  # never the SDK's real credentials file
        yield server


@pytest.fixture
def pod_spec(tiny_spec, s3_volume):
    # the data is on the network volume already (a loopback S3 server plays its S3 API)
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key="data/pretrain_data_embedded.pt", Body=b"on the volume")

    def make(**settings):
        base = {"image": "stickgen/train:1.0", "gpu_types": ["GPU A", "GPU B"], "poll_s": 0.0,
                "ready_timeout_s": 30.0, **s3_volume.settings}
        base.update(settings)
        return tiny_spec(backend="runpod", data="/runpod-volume/data/pretrain_data_embedded.pt",
                         backend_settings=base)
    return make


def env_of(deploy):
    return {e["key"]: e["value"] for e in deploy["env"]}


def test_mutation_carries_image_gpu_env_and_price(tmp_path, fake, pod_spec):
    spec = pod_spec()
    run = launch(spec, tmp_path / "ws")
    assert len(fake.deploys) == 1
    d = fake.deploys[0]
    assert d["imageName"] == "stickgen/train:1.0" and d["gpuTypeId"] == "GPU A" and d["cloudType"] == "SECURE"
    assert d["ports"] == "8765/http" and d["volumeMountPath"] == "/runpod-volume"
    env = env_of(d)
    assert env["TRAIN_DATA_PATH"] == spec.data and env["MODEL_VARIANT"] == "small" and env["USE_LORA"] == "false"
    assert json.loads(env["STICKGEN_JOB"]) == spec.to_dict()  # a JSON document with quotes arrives intact
    state = run.job_state()
    assert state["pod_id"] == "pod1" and state["gpu_type"] == "GPU A" and state["price_per_hour"] == 1.89
    assert run.status()["state"] == "running"  # the fake's pod has ports: ready


def test_quotes_backslashes_newlines_arrive_intact(tmp_path, fake, pod_spec, monkeypatch):
    from stickgen_core.jobs.volume_storage import Volume

    nasty = '/runpod-volume/da"ta\\dir\n", imageName: "evil/image'
    ckpt = '/runpod-volume/ck"pt\r\n\t.pth'
    # launch checks that volume paths are there; moto's server cannot route such keys, so its HEAD says yes
    monkeypatch.setattr(Volume, "head", lambda self, key: {"ContentLength": 1})
    spec = pod_spec().replace(data=nasty, init_from=ckpt)
    launch(spec, tmp_path / "ws")
    d = fake.deploys[0]
    env = env_of(d)
    assert env["TRAIN_DATA_PATH"] == nasty and env["INIT_FROM_CHECKPOINT"] == ckpt
    assert d["imageName"] == "stickgen/train:1.0"  # nothing was injected


def test_the_sdk_alone_would_break_the_mutation(fake):
    """Why we escape: the SDK pastes strings into its mutation as they are."""
    from runpod.api.mutations.pods import generate_pod_deployment_mutation

    raw = generate_pod_deployment_mutation("n", "img", "GPU A", env={"X": 'a"b'})
    assert "Syntax Error" in fake.answer(raw)["errors"][0]["message"]


def test_bad_env_names_are_refused():
    with pytest.raises(RunPodError, match="not a valid variable name"):
        escape_env({'A" }, { key: "B': "x"})


def test_gpu_fallback_then_clear_error(tmp_path, fake, pod_spec):
    fake.no_capacity = {"GPU A"}
    run = launch(pod_spec(), tmp_path / "ws")
    assert [d["gpuTypeId"] for d in fake.deploys] == ["GPU A", "GPU B"]
    assert run.job_state()["gpu_type"] == "GPU B"
    fake.no_capacity = {"GPU A", "GPU B"}
    with pytest.raises(RunPodError, match="no RunPod GPU available: GPU A, GPU B"):
        launch(pod_spec(), tmp_path / "ws")


def test_auth_failure_is_clear_and_keyless(tmp_path, fake, pod_spec, monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-wrong-key-0000")
    with pytest.raises(RunPodError, match="refused the API key") as err:
        launch(pod_spec(), tmp_path / "ws")
    assert "rp-wrong-key-0000" not in str(err.value)


def test_missing_key_is_clear(tmp_path, fake, pod_spec, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY")
    with pytest.raises(RunPodError, match="no RunPod API key"):
        launch(pod_spec(), tmp_path / "ws")


def test_unreachable_api_and_timeout_are_clear(tmp_path, fake, pod_spec, monkeypatch):
    import socket

    import requests
    import runpod.api.graphql as gql

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)  # accepts, never answers: a timeout
    real_post = requests.post
    monkeypatch.setattr(gql.requests, "post", lambda *a, **k: real_post(*a, **{**k, "timeout": 0.3}))
    monkeypatch.setenv("RUNPOD_API_BASE_URL", f"http://127.0.0.1:{s.getsockname()[1]}")
    with pytest.raises(RunPodError, match="did not answer in time"):
        launch(pod_spec(), tmp_path / "ws")
    s.close()
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    with pytest.raises(RunPodError, match="not reachable"):
        launch(pod_spec(), tmp_path / "ws")


def test_ready_means_ports_not_running(tmp_path, fake, pod_spec):
    fake.pods = [{"desiredStatus": "RUNNING", "runtime": None, "uptimeSeconds": 0}] * 3 + fake.pods
    run = launch(pod_spec(), tmp_path / "ws")
    backend = run.backend
    backend.check_pod(run, force=True)
    assert run.raw_status()["phase"] == "provisioning"  # RUNNING, but no ports yet
    status = backend.wait_ready(run, timeout=30)
    assert status["state"] == "running" and status["phase"] == "starting"


def test_never_ready_pod_times_out_with_message(tmp_path, fake, pod_spec):
    fake.pods = [{"desiredStatus": "RUNNING", "runtime": None, "uptimeSeconds": 0}]
    run = launch(pod_spec(ready_timeout_s=0.5), tmp_path / "ws")
    with pytest.raises(RunPodError, match="was not ready after"):
        run.backend.wait_ready(run, timeout=0.5)
    assert run.status()["state"] == "failed" and "not ready" in run.status()["error"]


def test_restart_loop_is_detected(tmp_path, fake, pod_spec):
    fake.pods = [{"desiredStatus": "RUNNING", "runtime": {"uptimeInSeconds": u, "ports": None}}
                 for u in (20, 40, 3, 30, 2, 25)]
    run = launch(pod_spec(), tmp_path / "ws")
    with pytest.raises(RunPodError, match="keeps restarting"):
        run.backend.wait_ready(run, timeout=30)
    assert run.status()["state"] == "failed" and "2 restarts" in run.status()["error"]


def test_stop_and_terminate_reach_the_api(tmp_path, fake, pod_spec):
    fake.pods = [{"desiredStatus": "RUNNING", "runtime": None, "uptimeSeconds": 0}]
    run = launch(pod_spec(pod_end="stop"), tmp_path / "ws")  # stop: the pod stays (EXITED), its disk billed
    assert run.stop()["state"] == "stopped"
    assert fake.live_pods()["pod1"]["desiredStatus"] == "EXITED" and not fake.billing_pods()
    from stickgen_core.cli import main

    assert main(["jobs", "terminate", run.run_id, "--workspace", str(tmp_path / "ws")]) == 0
    assert [c[0] for c in fake.calls].count("podTerminate") == 1 and not fake.live_pods()
    run2 = launch(pod_spec(), tmp_path / "ws")  # default pod_end: stop terminates
    assert main(["jobs", "stop", run2.run_id, "--workspace", str(tmp_path / "ws"), "--terminate"]) == 0
    assert [c[0] for c in fake.calls].count("podTerminate") == 2 and not fake.live_pods()


def test_remote_run_end_to_end_through_the_agent_and_no_key_leaks(tmp_path, fake, pod_spec, tiny_data, s3_volume):
    """Launch on the fake API, run the pod's entrypoint here with the env the mutation carried, read
    live metrics through the agent, stop, resume and SFT; then look for the key everywhere."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import psutil

    from stickgen_core.jobs import sft_from

    from .conftest import mirror_volume, push_folder
    from .helpers import wait_for

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws, vol = tmp_path / "ws", tmp_path / "runpod-volume"
    run = launch(pod_spec(agent_port=port, agent_url_template="http://127.0.0.1:{port}").replace(data=str(tiny_data)), ws)
    pod_env = env_of(fake.deploys[0])
    mirror_volume(s3_volume.client, s3_volume.volume_id, vol)  # the pod mounts the volume the data was uploaded to
    assert pod_env["TRAIN_DATA_PATH"].startswith("/runpod-volume/stickgen/data/")
    assert pod_env["STICKGEN_RUN_DIR"] == f"/runpod-volume/runs/{run.run_id}"
    # this machine plays the pod: its volume is a temp folder; the pod never gets the API key
    env = {k: v for k, v in os.environ.items() if k != "RUNPOD_API_KEY"}
    assert pod_env["STICKGEN_DEVICE"] == "cuda"  # a real pod trains on its GPU or fails; this machine has none
    env.update(pod_env, STICKGEN_DEVICE="cpu", STICKGEN_RUN_DIR=str(vol / "runs" / run.run_id), TRAIN_DATA_PATH=str(vol / pod_env["TRAIN_DATA_PATH"][15:]),
               STICKGEN_AGENT_HOST="127.0.0.1", AGENT_LINGER_SECONDS="600", STICKGEN_DATA_DIR=str(vol / "data"))
    pod = subprocess.Popen(["nice", "-n", "15", sys.executable, "-m", "stickgen_core.cli", "runpod-entrypoint"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rows, offset = wait_for(lambda: (lambda r: r if r[1] >= 3 else None)(run.read_metrics(0)), "remote metrics")
        assert rows[0]["type"] == "step" and (ws / "runs" / run.run_id / "metrics.jsonl").is_file()
        more, _ = wait_for(lambda: (lambda r: r if r[0] else None)(run.read_metrics(offset)), "more remote metrics")
        assert more[0]["step"] > rows[-1].get("step", 0) - 1
        assert run.status()["state"] == "running" and run.log_tail(5)
        wait_for(lambda: run.job_state().get("remote_best") or run.status() and None, "a remote best checkpoint")
        import torch

        best = run.fetch_checkpoint("best")  # downloaded through the agent, SHA-256 checked
        assert best.parent == run.root / "checkpoints" and torch.load(best, weights_only=True)["stage"] == "pretrain"

        for proc in psutil.process_iter(["cmdline"]):  # the key is on no command line ...
            assert KEY not in " ".join(proc.info["cmdline"] or [])
        for proc in [psutil.Process(pod.pid), *psutil.Process(pod.pid).children(recursive=True)]:
            assert KEY not in json.dumps(proc.environ())  # ... and not in the pod's environment

        assert run.stop(timeout=120)["state"] == "stopped"
        assert "podTerminate" in [c[0] for c in fake.calls] and not fake.live_pods()  # stop ends the pod (pod_end)
        remote_latest = run.job_state()["remote_latest"]
        assert remote_latest == f"/runpod-volume/runs/{run.run_id}/checkpoints/model_checkpoint_latest.pth"

        resume_run(run)
        assert env_of(fake.deploys[-1])["RESUME_FROM_CHECKPOINT"] == remote_latest
        push_folder(s3_volume.client, s3_volume.volume_id, vol)  # what the pod wrote, seen through the S3 API
        s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key="data/sft_data_embedded.pt", Body=b"sft split")
        sft = sft_from(run, data="/runpod-volume/data/sft_data_embedded.pt")
        sft_env = env_of(fake.deploys[-1])
        assert sft_env["INIT_FROM_CHECKPOINT"] == run.job_state()["remote_best"]
        assert json.loads(sft_env["STICKGEN_JOB"])["stage"] == "sft" and sft.info()["job"]["config"] == "sft_small"
    finally:
        pod.send_signal(signal.SIGTERM)
        pod.wait(timeout=120)
    for folder in (ws, vol):  # every file a job wrote, here and on the "volume"
        for path in folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
    assert not any(KEY in q for q in fake.queries)


def test_cli_estimate_prints_the_price_and_launches_nothing(tmp_path, fake, tiny_data, capsys):
    from stickgen_core.cli import main

    code = main(["jobs", "launch", "--workspace", str(tmp_path), "--config", "small", "--data_path", "/runpod-volume/d.pt",
                 "--backend", "runpod", "--gpu-type", "GPU A", "--cloud-type", "COMMUNITY", "--estimate"])
    assert code == 0 and capsys.readouterr().out.strip() == "GPU A: $1.19/h (COMMUNITY cloud)"
    assert not fake.deploys and not (tmp_path / "runs").exists()
