"""A pod's life ends by design: every way a RunPod run ends leaves no pod in the fake API, the pod
query asks only for what is read, an unreachable pod or API is a row (never an exit), spot pods
resume on a new pod up to a limit. The fake keeps pod state and answers only the fields selected."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from stickgen_core.cli import main
from stickgen_core.errors import RunPodError
from stickgen_core.jobs import delete_run, launch, resume_run
from stickgen_core.jobs.runpod_api import POD_QUERY

from .helpers import wait_for
from .test_runpod import KEY, env_of, fake, pod_spec  # noqa: F401 - fixtures

NOT_READY = {"desiredStatus": "RUNNING", "runtime": None}


def test_the_fake_answers_only_the_fields_selected(tmp_path, fake, pod_spec):
    launch(pod_spec(), tmp_path / "ws")
    assert fake.answer('{ pod(input: {podId: "pod1"}) { id } }') == {"data": {"pod": {"id": "pod1"}}}
    err = fake.answer('{ pod(input: {podId: "pod1"}) { id secretField } }')["errors"][0]["message"]
    assert "Cannot query field 'secretField'" in err


def test_the_pod_query_asks_for_what_is_read_and_never_env(tmp_path, fake, pod_spec):
    from runpod.api.queries.pods import generate_pod_query

    run = launch(pod_spec(), tmp_path / "ws")
    run.backend.check_pod(run, force=True)
    asked = [q for q in fake.queries if "pod(input" in q]
    assert asked and not any("env" in q for q in asked)
    pod = fake.answer(POD_QUERY.format(pod_id="pod1"))["data"]["pod"]
    assert set(pod) == {"id", "desiredStatus", "costPerHr", "runtime"} and set(pod["runtime"]) == {"uptimeInSeconds", "ports"}
    # what the SDK's get_pod would have fetched on every poll: the agent's token, and no uptimeInSeconds
    sdk_pod = fake.answer(generate_pod_query("pod1"))["data"]["pod"]
    assert any(e.startswith("STICKGEN_AGENT_TOKEN=") for e in sdk_pod["env"]) and "uptimeInSeconds" not in sdk_pod["runtime"]


def test_readiness_timeout_leaves_no_pod(tmp_path, fake, pod_spec):
    fake.pods = [NOT_READY]
    run = launch(pod_spec(ready_timeout_s=0.3), tmp_path / "ws")
    with pytest.raises(RunPodError, match="was not ready after"):
        run.backend.wait_ready(run, timeout=0.3)
    assert run.status()["state"] == "failed" and not fake.live_pods()


def test_restart_limit_leaves_no_pod(tmp_path, fake, pod_spec):
    fake.pods = [{"desiredStatus": "RUNNING", "runtime": {"uptimeInSeconds": u, "ports": None}} for u in (20, 3, 30, 2)]
    run = launch(pod_spec(), tmp_path / "ws")
    with pytest.raises(RunPodError, match="keeps restarting"):
        run.backend.wait_ready(run, timeout=30)
    assert not fake.live_pods() and "podTerminate" in [c[0] for c in fake.calls]


def test_delete_terminates_a_lingering_pod(tmp_path, fake, pod_spec):
    run = launch(pod_spec(), tmp_path / "ws")
    run.set_status("completed")  # what the agent reported; the pod lingers for a last fetch
    assert fake.billing_pods()
    delete_run(run)
    assert not fake.live_pods() and not run.root.exists()
    other = launch(pod_spec(), tmp_path / "ws")
    with pytest.raises(Exception, match="stop it before deleting it"):
        delete_run(other)  # an active run is refused, its pod untouched
    assert "pod2" in fake.billing_pods()
    other.set_status("failed")
    assert main(["jobs", "delete", other.run_id, "--workspace", str(tmp_path / "ws")]) == 0
    assert not fake.live_pods() and not other.root.exists()


def test_resume_terminates_the_old_pod(tmp_path, fake, pod_spec):
    run = launch(pod_spec(pod_end="stop"), tmp_path / "ws")
    assert run.stop(timeout=1)["state"] == "stopped"
    assert fake.live_pods()["pod1"]["desiredStatus"] == "EXITED"  # stopped: its disk still billed
    latest = f"/runpod-volume/runs/{run.run_id}/checkpoints/model_checkpoint_latest.pth"
    run.update_job_state(remote_latest=latest)
    resume_run(run)
    assert list(fake.live_pods()) == ["pod2"] and env_of(fake.deploys[-1])["RESUME_FROM_CHECKPOINT"] == latest
    assert run.job_state()["pod_id"] == "pod2" and run.job_state()["attempt"] == 2


def test_jobs_list_shows_pods_billing_and_outlives_an_outage(tmp_path, fake, pod_spec, capsys, monkeypatch):
    ws = tmp_path / "ws"
    by_hand = ws / "runs" / "by-hand"  # a local run beside the remote one
    by_hand.mkdir(parents=True)
    (by_hand / "run.json").write_text(json.dumps({"stage": "pretrain", "backend": "local"}))
    (by_hand / "status.json").write_text(json.dumps({"state": "completed", "epoch": 3}))
    run = launch(pod_spec(), ws)
    run.set_status("completed")
    capsys.readouterr()
    assert main(["jobs", "list", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "pod1 RUNNING $1.89/h" in out and "1 pod(s) still billing, $1.89/h" in out

    run.set_status("running", phase="train")
    fake.fail_with = "Internal server error"  # the API is down
    assert main(["jobs", "list", "--workspace", str(ws), "--json"]) == 0
    rows = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["by-hand"]["state"] == "completed"
    assert rows[run.run_id]["state"] == "unreachable" and "Internal server error" in rows[run.run_id]["error"]
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "http://127.0.0.1:9")  # nothing listens
    run.update_job_state(last_pod_check=0.0)
    assert main(["jobs", "list", "--workspace", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "by-hand" in out and "unreachable" in out and "not reachable" in out

    fake.fail_with = None
    monkeypatch.setenv("RUNPOD_API_BASE_URL", fake.url)
    assert main(["jobs", "terminate", run.run_id, "--workspace", str(ws)]) == 0
    assert not fake.live_pods()
    assert main(["jobs", "list", "--workspace", str(ws)]) == 0
    assert "still billing" not in capsys.readouterr().out


def test_a_pod_that_outstays_its_linger_is_terminated_from_here(tmp_path, fake, pod_spec):
    """The pod could not remove itself (no key, an API hiccup): the next poll after linger + 2 min does."""
    import time

    run = launch(pod_spec(linger_s=10.0), tmp_path / "ws")
    run.set_status("completed")
    run.update_job_state(remote_ended_at=time.time() - 129)  # one second short of linger + 120 s
    run.status()
    assert fake.billing_pods()
    run.update_job_state(remote_ended_at=time.time() - 131)
    run.status()
    assert not fake.live_pods() and run.job_state()["terminated"]


def test_a_run_that_ended_while_nobody_looked_reads_its_state_from_the_volume(tmp_path, fake, pod_spec, s3_volume):
    run = launch(pod_spec(), tmp_path / "ws")
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=f"runs/{run.run_id}/status.json",
                                Body=json.dumps({"state": "completed", "epoch": 9}).encode())
    fake.pods = [None]  # it removed itself after its linger
    assert run.status()["state"] == "completed" and run.status()["epoch"] == 9
    other = launch(pod_spec(), tmp_path / "ws")
    assert other.status()["state"] == "failed" and "no longer exists" in other.status()["error"]


def test_spot_pod_interrupted_resumes_on_a_new_pod_up_to_the_limit(tmp_path, fake, pod_spec):
    with pytest.raises(RunPodError, match="bid_per_gpu"):
        launch(pod_spec(interruptible=True), tmp_path / "ws")
    run = launch(pod_spec(interruptible=True, bid_per_gpu=0.5, interruption_retries=1), tmp_path / "ws")
    assert fake.calls[-1][0] == "podRentInterruptable" and fake.deploys[-1]["bidPerGpu"] == 0.5
    assert run.status()["state"] == "running" and run.job_state()["price_per_hour"] == 0.5
    fake.interrupt("pod1")
    run.update_job_state(last_pod_check=0.0)
    run.status()
    assert list(fake.live_pods()) == ["pod2"] and run.job_state()["attempt"] == 2
    assert run.status()["state"] == "running"
    fake.interrupt("pod2")
    status = run.status()
    assert status["state"] == "failed" and "interrupted 2 times" in status["error"] and not fake.live_pods()


def test_the_entrypoint_resumes_from_the_run_folders_latest(tmp_path, tiny_spec, tiny_data):
    from stickgen_core.jobs.entrypoint import prepare_run
    from stickgen_core.jobs.pipeline import plan

    root = tmp_path / "vol" / "runs" / "r"
    env = {"STICKGEN_RUN_DIR": str(root), "STICKGEN_JOB": json.dumps(tiny_spec(backend="runpod").to_dict()),
           "TRAIN_DATA_PATH": str(tiny_data), "INIT_FROM_CHECKPOINT": "/runpod-volume/parent/best.pth"}
    first = plan(prepare_run(env))[-1].argv
    assert "--init_from" in first and "--resume_from" not in first  # the first start
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "model_checkpoint_latest.pth").write_bytes(b"x")
    again = plan(prepare_run(env))[-1].argv  # the same env: a restarted container
    assert again[again.index("--resume_from") + 1] == str(root / "checkpoints" / "model_checkpoint_latest.pth")
    assert "--init_from" not in again


def test_a_pod_may_remove_only_itself(tmp_path, fake, pod_spec, monkeypatch):
    from stickgen_core.jobs.entrypoint import end_own_pod

    launch(pod_spec(), tmp_path / "ws")
    launch(pod_spec(), tmp_path / "ws")
    monkeypatch.setenv("RUNPOD_API_KEY", fake.pod_keys["pod1"])  # what RunPod injects into pod1
    assert end_own_pod({"RUNPOD_POD_ID": "pod2"}, tries=1, pause=0) is False
    assert end_own_pod({"RUNPOD_POD_ID": "pod1", "STICKGEN_POD_END": "stop"}, tries=1, pause=0) is True
    assert fake.live_pods()["pod1"]["desiredStatus"] == "EXITED"
    assert end_own_pod({"RUNPOD_POD_ID": "pod1"}, tries=1, pause=0) is True
    assert list(fake.live_pods()) == ["pod2"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _play_the_pod(fake, run, tmp_path, **extra):
    """Start the real entrypoint here with the env the pod got, plus what RunPod injects (its id and key)."""
    pod_id = run.job_state()["pod_id"]
    env = {k: v for k, v in os.environ.items() if k != "RUNPOD_API_KEY"}
    env.update(env_of(fake.deploys[-1]), STICKGEN_RUN_DIR=str(tmp_path / "vol" / "runs" / run.run_id),
               STICKGEN_DATA_DIR=str(tmp_path / "vol" / "data"), STICKGEN_AGENT_HOST="127.0.0.1",
               RUNPOD_POD_ID=pod_id, RUNPOD_API_KEY=fake.pod_keys[pod_id], STICKGEN_DEVICE="cpu", **extra)
    return subprocess.Popen(["nice", "-n", "15", sys.executable, "-m", "stickgen_core.cli", "runpod-entrypoint"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.parametrize("outcome", ["completed", "failed"])
def test_a_pod_that_ends_its_run_removes_itself(tmp_path, fake, pod_spec, tiny_data, outcome):
    """This machine plays the pod: the real entrypoint trains a tiny model (or fails on bad data), the
    local side reads the end through the agent, and after the linger the fake holds no pod."""
    port = _free_port()
    spec = pod_spec(agent_port=port, agent_url_template="http://127.0.0.1:{port}").replace(epochs=2)
    run = launch(spec, tmp_path / "ws")
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a dataset")
    pod = _play_the_pod(fake, run, tmp_path, AGENT_LINGER_SECONDS="3",
                        TRAIN_DATA_PATH=str(tiny_data if outcome == "completed" else bad))
    try:
        status = wait_for(lambda: (lambda s: s if s["state"] in ("completed", "failed") else None)(run.status()),
                          "the run's end through the agent")
        assert status["state"] == outcome, status
        assert fake.billing_pods()  # lingering: a last fetch is still possible
        assert pod.wait(timeout=120) == (0 if outcome == "completed" else 1)
    finally:
        if pod.poll() is None:
            pod.send_signal(signal.SIGTERM)
            pod.wait(timeout=60)
    assert not fake.live_pods()
    run.status()
    assert run.job_state()["terminated"]  # the local side learnt that the pod removed itself
    assert KEY not in json.dumps(fake.calls)


@pytest.mark.parametrize("how", ["container restart", "spot interruption"])
def test_a_crashed_pod_resumes_from_the_volume_and_keeps_the_best(tmp_path, fake, pod_spec, tiny_data, how):
    """The pod dies hard mid-training (SIGKILL to every process of the container). A restarted container
    (same pod, same env) or, for a spot pod, a new pod resumes from the volume's latest checkpoint;
    the run completes, the best checkpoint is the best of all epochs, and no pod is left."""
    import torch

    port = _free_port()
    settings = dict(agent_port=port, agent_url_template="http://127.0.0.1:{port}", linger_s=1.0)
    if how == "spot interruption":
        settings.update(interruptible=True, bid_per_gpu=0.4)
    run = launch(pod_spec(**settings).replace(epochs=25), tmp_path / "ws")
    root = tmp_path / "vol" / "runs" / run.run_id

    def play():
        return _play_the_pod(fake, run, tmp_path, TRAIN_DATA_PATH=str(tiny_data), AGENT_LINGER_SECONDS="1")

    pod = play()
    try:
        wait_for(lambda: (root / "checkpoints" / "model_checkpoint_latest.pth").is_file(), "a first checkpoint")
        os.killpg(pod.pid, signal.SIGKILL)  # the container dies with everything in it
        pod.wait()
        if how == "spot interruption":
            fake.interrupt(run.job_state()["pod_id"])
            run.update_job_state(last_pod_check=0.0)
            run.status()  # the local side sees it and asks for a new pod
            assert run.job_state()["pod_id"] == "pod2" and list(fake.live_pods()) == ["pod2"]
        pod = play()
        status = wait_for(lambda: (lambda s: s if s["state"] in ("completed", "failed") else None)(run.status()),
                          "the resumed run's end")
        assert status["state"] == "completed", status
        assert pod.wait(timeout=120) == 0
    finally:
        if pod.poll() is None:
            os.killpg(pod.pid, signal.SIGKILL)
            pod.wait()
    log = (root / "train.log").read_text()
    assert "resumed from" in log and log.count("step train:") == 2
    epochs = [json.loads(x) for x in (root / "metrics.jsonl").read_text().splitlines() if '"epoch"' in x]
    vals = [r["val_total"] for r in epochs if r.get("type") == "epoch"]
    best = torch.load(root / "checkpoints" / "model_checkpoint_best.pth", weights_only=True)
    assert best["val_loss"] == min(vals)  # the best of all epochs, before and after the crash
    assert not fake.live_pods()


def test_a_container_back_after_its_run_ended_does_not_train_again(tmp_path, fake, pod_spec, tiny_data):
    """Its self-removal failed and RunPod restarted the container: it serves, retries the removal, never retrains."""
    from stickgen_core.jobs.entrypoint import finished_attempt
    from stickgen_core.jobs.run import write_json

    run = launch(pod_spec(agent_port=_free_port()), tmp_path / "ws")
    root = tmp_path / "vol" / "runs" / run.run_id
    root.mkdir(parents=True)
    write_json(root / "status.json", {"state": "completed", "epoch": 3})
    write_json(root / "job_state.json", {"attempt": 1, "container_starts": 1})
    assert finished_attempt({"STICKGEN_RUN_DIR": str(root), "STICKGEN_ATTEMPT": "1"}) == "completed"
    assert finished_attempt({"STICKGEN_RUN_DIR": str(root), "STICKGEN_ATTEMPT": "2"}) is None  # a resume: it runs
    pod = _play_the_pod(fake, run, tmp_path, TRAIN_DATA_PATH=str(tiny_data), AGENT_LINGER_SECONDS="0")
    assert pod.wait(timeout=120) == 0
    assert not fake.live_pods() and not (root / "train.log").exists()
    assert json.loads((root / "status.json").read_text())["state"] == "completed"


@pytest.mark.parametrize("when", ["uploading", "creating the pod"])
def test_a_stop_while_the_data_uploads_or_the_pod_is_made_leaves_no_pod(tmp_path, fake, pod_spec, monkeypatch, when):
    """The studio's Stop can land before ``start`` has a pod: the run ends stopped and no pod bills on."""
    from stickgen_core.jobs import run as run_module
    from stickgen_core.jobs import runpod_backend as rpb

    def stop_now(run):
        run_module.Run(run.root).stop(wait=False)  # what the Stop button does, from another handle

    if when == "uploading":
        real = rpb.deliver_run
        monkeypatch.setattr(rpb, "deliver_run", lambda run, s: (real(run, s), stop_now(run))[0])
    else:
        real_create = rpb.RunPodBackend._create
        monkeypatch.setattr(rpb.RunPodBackend, "_create",
                            lambda self, run, gpu, env: (real_create(self, run, gpu, env), stop_now(run))[0])
    run = launch(pod_spec(), tmp_path / "ws")
    assert run.status()["state"] == "stopped" and not fake.live_pods(), (run.raw_status(), fake.live_pods())
    assert bool(fake.deploys) == (when == "creating the pod")
