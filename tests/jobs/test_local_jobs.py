"""Local jobs end to end: launch, live metrics, stop, resume at the same step, SFT from the best
checkpoint, a second process sees the run, a killed trainer is reported failed, the queue."""

import json
import os
import signal
import subprocess
import sys

import pytest

from stickgen_core.errors import JobError
from stickgen_core.jobs import JobSpec, launch, list_runs, resume_run, sft_from

from .helpers import wait_for


def steps(rows):
    return [r["step"] for r in rows if r.get("type") == "step"]


def test_launch_watch_stop_resume_sft(tmp_path, tiny_spec):
    ws = tmp_path / "ws"
    run = launch(tiny_spec(run_name="pre"), ws)
    rows, offset = wait_for(lambda: (lambda r: r if r[1] >= 3 else None)(run.read_metrics(0)), "first metrics")
    seen, offset2 = [], offset
    while not steps(seen):  # an epoch line may come alone; wait for step lines
        more, offset2 = wait_for(lambda: (lambda r: r if r[1] > offset2 else None)(run.read_metrics(offset2)),
                                 "more metrics")
        seen += more
    assert offset2 > offset and min(steps(seen)) > max(steps(rows) or [0])  # only the new lines

    # another Python process sees the live run and its state
    out = subprocess.run([sys.executable, "-c", "import json,sys; from stickgen_core.jobs import list_runs; "
                          "print(json.dumps([r.summary() for r in list_runs(sys.argv[1])]))", str(ws)],
                         capture_output=True, text=True, check=True)
    listed = json.loads(out.stdout)
    assert [(r["run_id"], r["state"]) for r in listed] == [("pre", "running")]

    wait_for(lambda: run.checkpoint("best"), "a best checkpoint")
    status = run.stop()
    assert status["state"] == "stopped"
    stopped_at = status["global_step"]
    _, offset = run.read_metrics(0)

    resume_run(run)
    new, _ = wait_for(lambda: (lambda r: r if steps(r[0]) else None)(run.read_metrics(offset)), "metrics after resume")
    assert steps(new)[0] == stopped_at + 1
    assert run.job_state()["attempt"] == 2
    assert run.stop()["state"] == "stopped"

    best = run.checkpoint("best")
    sft_data = tmp_path / "sft_data_embedded.pt"  # the SFT split beside the pretraining one
    sft_data.write_bytes(open(run.spec.data, "rb").read())
    sft = sft_from(run, data=str(sft_data))
    info = sft.info()
    assert info["job"]["stage"] == "sft" and info["job"]["init_from"] == str(best)
    assert info["job"]["config"] == "sft_small"
    wait_for(lambda: sft.info().get("sources"), "the trainer's run.json")
    info = sft.info()
    assert info["stage"] == "sft" and info["sources"]["init_from"]["value"] == str(best)
    assert info["job"]["stage"] == "sft"  # the trainer kept the job's own keys
    assert sft.stop()["state"] == "stopped"


def test_killed_trainer_shows_failed_with_log_tail(tmp_path, tiny_spec):
    run = launch(tiny_spec(run_name="doomed"), tmp_path / "ws")
    wait_for(lambda: run.read_metrics(0)[1] >= 2, "training to start")
    trainer = run.job_state()["trainer"]["pid"]
    os.kill(trainer, signal.SIGKILL)
    status = wait_for(lambda: (lambda s: s if s["state"] == "failed" else None)(run.status()), "failed state")
    assert "SIGKILL" in status["error"]
    assert any("stickgen_core.train" in line for line in status["log_tail"])


def test_dead_supervisor_is_not_mistaken_for_live(tmp_path, tiny_spec):
    run = launch(tiny_spec(run_name="orphan"), tmp_path / "ws")
    wait_for(lambda: run.read_metrics(0)[1] >= 1, "training to start")
    os.kill(run.job_state()["supervisor"]["pid"], signal.SIGKILL)
    # the trainer dies with its supervisor; the run ends stopped (it saved) or failed, never 'running'
    status = wait_for(lambda: (lambda s: s if s["state"] != "running" else None)(run.status()), "not running")
    assert status["state"] in ("failed", "stopped")


def test_second_run_waits_in_queue(tmp_path, tiny_spec):
    ws = tmp_path / "ws"
    first = launch(tiny_spec(run_name="a"), ws)
    second = launch(tiny_spec(run_name="b"), ws)
    assert second.status()["state"] == "queued"
    assert first.status()["state"] == "running"
    wait_for(lambda: first.read_metrics(0)[1] >= 1, "the first run to train")
    first.stop()
    wait_for(lambda: second.read_metrics(0)[1] >= 1, "the queued run to start")
    assert [r.status()["state"] for r in list_runs(ws)] == ["stopped", "running"]
    second.stop()
    assert second.status()["state"] == "stopped"


@pytest.mark.parametrize("field,value,needle", [
    ("stage", "finetune", "job.stage"), ("epochs", 0, "job.epochs"), ("backend", "cloud", "job.backend"),
    ("run_name", "../evil", "job.run_name"), ("config", "nope", "job.config"),
])
def test_spec_errors_name_the_field(tiny_spec, field, value, needle):
    with pytest.raises(JobError, match=needle.replace(".", r"\.")):
        tiny_spec(**{field: value}).validate()


def test_resume_and_init_exclude_each_other(tiny_spec):
    with pytest.raises(JobError, match="resume_from / job.init_from"):
        tiny_spec(resume_from="a.pth", init_from="b.pth").validate()


def test_spec_roundtrip(tiny_spec):
    from stickgen_core.jobs import LoraSpec

    spec = tiny_spec(lora=LoraSpec(enabled=True, rank=4), loss_weights={"pose": 2.0})
    again = JobSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    cfg = again.resolved_config()
    assert cfg["lora"]["rank"] == 4 and cfg["lora"]["enabled"] and cfg["loss_weights"]["pose"] == 2.0
    assert cfg["training"]["epochs"] == 400 and cfg["model"]["d_model"] == 32


def test_a_split_without_embeddings_is_embedded_first(tmp_path, tiny_spec):
    from stickgen_core.io import load_dataset, save_dataset
    from stickgen_core.synth import SynthConfig, generate_dataset

    raw = tmp_path / "pretrain_data.pt"
    save_dataset(generate_dataset(16, seed=4, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2)), raw)
    run = launch(tiny_spec(run_name="raw", data=str(raw)), tmp_path / "ws")
    wait_for(lambda: run.read_metrics(0)[1] >= 1, "training after embedding")
    embedded = run.root / "data" / "pretrain_data_embedded.pt"
    assert run.info()["data_path"] == str(embedded)
    assert load_dataset(embedded)[0]["embedding"].shape == (384,)  # the offline all-MiniLM-L6-v2
    assert run.stop()["state"] == "stopped"
    resume_run(run)  # the second attempt reuses the embedded file
    wait_for(lambda: run.job_state().get("attempt") == 2 and run.status()["state"] == "running"
             and run.status().get("phase") is None, "the second attempt training")
    log = (run.root / "train.log").read_text()
    assert log.count("step embed:") == 1 and log.count("step train:") == 2
    assert run.stop()["state"] == "stopped"


def test_a_folder_from_stickgen_train_is_listed_beside_the_jobs(tmp_path):
    """`stickgen train --run-dir runs/x` writes run.json without a job entry: the runs list (and
    with it the Train page) shows it as its files say, instead of failing for every run."""
    root = tmp_path / "runs" / "by-hand"
    (root / "checkpoints").mkdir(parents=True)
    # what the trainer writes (trainer.py): its stage, backend and resolved config, no job entry
    (root / "run.json").write_text(json.dumps({"run_id": "by-hand", "stage": "pretrain", "backend": "local",
                                               "config": {"training": {"epochs": 9}},
                                               "created": "2026-11-26T02:36:35+00:00"}))
    (root / "status.json").write_text(json.dumps({"state": "completed", "epoch": 7, "error": None}))
    (root / "checkpoints" / "model_checkpoint_best.pth").write_bytes(b"")
    [run] = list_runs(tmp_path)
    assert run.status()["state"] == "completed" and run.checkpoint("best") is not None
    summary = run.summary()
    assert (summary["stage"], summary["backend"]) == ("pretrain", "local")  # the Train page's Stage / Backend cells
    assert summary["created"] == "2026-11-26T02:36:35+00:00"  # its Started cell
    with pytest.raises(JobError, match="not made by stickgen jobs"):
        run.spec  # resuming such a run through jobs is refused with a clear reason
