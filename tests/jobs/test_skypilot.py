"""A JobSpec as a SkyPilot task: valid by SkyPilot's own schema (no cloud call), torchrun over the nodes,
the files it needs mounted, and `--backend skypilot` launching through a `sky` command (a stand-in here)."""

import copy
import importlib.util
import os
import stat
import sys

import pytest
import yaml

from stickgen_core.cli import main
from stickgen_core.errors import JobError
from stickgen_core.jobs import launch
from stickgen_core.jobs.skypilot import task_config


def _sky_validate(task: dict) -> None:
    """SkyPilot's validation of a task YAML: its JSON schema, then its own Task parser (offline). Where
    SkyPilot is not installed only the tests about the schema itself skip; the rest check the rest."""
    if importlib.util.find_spec("sky") is None:
        return
    import sky
    from sky.utils import common_utils, schemas

    common_utils.validate_schema(task, schemas.get_task_schema(), "Invalid task YAML: ")
    parsed = sky.Task.from_yaml_config(copy.deepcopy(task))  # it pops what it reads
    assert parsed.num_nodes == task["num_nodes"]


def test_task_is_valid_skypilot_and_trains_with_torchrun_over_the_nodes(tiny_spec, tiny_data):
    pytest.importorskip("sky", reason="SkyPilot is optional: pip install 'stickgen-studio[skypilot]'")
    spec = tiny_spec(backend="skypilot", gpu_count=4, init_from=str(tiny_data),
                     backend_settings={"num_nodes": 2, "accelerator": "H100", "use_spot": True,
                                       "bucket": "s3://my-bucket/stickgen", "cloud": "aws"})
    task = task_config(spec, "run-1")
    _sky_validate(task)
    assert task["num_nodes"] == 2 and task["resources"]["accelerators"] == "H100:4"
    assert task["resources"]["use_spot"] is True and task["resources"]["cloud"] == "aws"
    assert task["file_mounts"]["/stickgen/data/pretrain_data_embedded.pt"] == str(tiny_data)
    assert task["file_mounts"]["/stickgen/start/pretrain_data_embedded.pt"] == str(tiny_data)
    assert task["file_mounts"]["/stickgen/runs"] == {"source": "s3://my-bucket/stickgen", "mode": "MOUNT"}
    run = task["run"]
    assert ('torchrun --nnodes $SKYPILOT_NUM_NODES --node_rank $SKYPILOT_NODE_RANK '
            '--master_addr $(echo "$SKYPILOT_NODE_IPS" | head -n1)') in run
    assert "--nproc_per_node $SKYPILOT_NUM_GPUS_PER_NODE -m stickgen_core.train" in run
    assert "--init_from /stickgen/start/pretrain_data_embedded.pt" in run
    # a recovered spot job resumes from the bucket's latest checkpoint instead of starting over
    assert 'START="--resume_from /stickgen/runs/run-1/checkpoints/model_checkpoint_latest.pth"' in run
    config = yaml.safe_load(task["envs"]["STICKGEN_CONFIG"])
    assert config["training"]["device"] == "cuda" and config["training"]["stage"] == "pretrain"
    assert "setup" in task and "constraints.txt" in task["setup"]  # the core install path, pinned like the image


def test_one_node_task_with_an_image_and_data_to_embed(tmp_path, tiny_spec):
    import torch

    from stickgen_core.synth import generate_dataset

    plain = tmp_path / "pretrain_data.pt"
    torch.save({"sequences": generate_dataset(2, seed=0)}, plain)
    task = task_config(tiny_spec(backend="skypilot", data=str(plain), backend_settings={"image": "me/train:1"}), "r")
    _sky_validate(task)
    assert task["resources"]["image_id"] == "docker:me/train:1" and "setup" not in task
    assert task["resources"]["accelerators"] == "A100:1" and task["num_nodes"] == 1
    assert "stickgen embed --input /stickgen/data/pretrain_data.pt" in task["run"]


@pytest.mark.parametrize("settings, field", [
    ({"num_nodes": 0}, "num_nodes"), ({"accelerator": "A100; rm -rf /"}, "accelerator"),
    ({"bucket": "http://x"}, "bucket"), ({"zone": "x"}, "unknown SkyPilot setting"),
    ({"disk_size_gb": True}, "disk_size_gb"),
])
def test_bad_settings_are_named(tiny_spec, settings, field):
    with pytest.raises(JobError, match=field):
        task_config(tiny_spec(backend="skypilot", backend_settings=settings), "r")


def test_export_cli_writes_the_task_and_launches_nothing(tmp_path, tiny_data, capsys):
    out = tmp_path / "task.yaml"
    code = main(["jobs", "launch", "--workspace", str(tmp_path / "ws"), "--config", "small", "--data_path",
                 str(tiny_data), "--gpu-count", "2", "--num-nodes", "3", "--run-name", "big",
                 "--export-skypilot", str(out)])
    assert code == 0 and "sky jobs launch" in capsys.readouterr().out
    task = yaml.safe_load(out.read_text())
    _sky_validate(task)
    assert task["name"] == "stickgen-big" and task["num_nodes"] == 3 and task["resources"]["accelerators"] == "A100:2"
    assert not (tmp_path / "ws" / "runs").exists()


@pytest.fixture
def fake_sky(tmp_path, monkeypatch):
    """A `sky` command on PATH that records its arguments (no cloud)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "sky"
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(tmp_path / 'sky_calls.jsonl')!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "sky_calls.jsonl"


def test_backend_skypilot_submits_a_managed_job_and_cancels_it(tmp_path, tiny_spec, fake_sky):
    import json

    run = launch(tiny_spec(backend="skypilot", run_name="sp", backend_settings={"bucket": "gs://b/runs"}), tmp_path / "ws")
    calls = [json.loads(line) for line in fake_sky.read_text().splitlines()]
    assert calls == [["jobs", "launch", "--yes", "--detach-run", "--name", "stickgen-sp", str(run.root / "skypilot.yaml")]]
    _sky_validate(yaml.safe_load((run.root / "skypilot.yaml").read_text()))
    assert run.status()["state"] == "running" and run.job_state()["sky_job_name"] == "stickgen-sp"
    run.stop(timeout=5)
    assert json.loads(fake_sky.read_text().splitlines()[-1]) == ["jobs", "cancel", "--yes", "--name", "stickgen-sp"]
    assert run.status()["state"] == "stopped"


def test_backend_skypilot_needs_a_bucket_and_the_sky_command(tmp_path, tiny_spec, monkeypatch):
    with pytest.raises(JobError, match="bucket"):
        launch(tiny_spec(backend="skypilot", backend_settings={}), tmp_path / "ws")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(JobError, match="`sky` command is not installed"):
        launch(tiny_spec(backend="skypilot", backend_settings={"bucket": "s3://bkt"}), tmp_path / "ws")
    assert not (tmp_path / "ws" / "runs").exists() or not any((tmp_path / "ws" / "runs").iterdir())


@pytest.mark.parametrize("status, state", [("PENDING", "queued"), ("STARTING", "queued"), ("RUNNING", "running"),
                                           ("RECOVERING", "running"), ("SUCCEEDED", "completed"),
                                           ("CANCELLED", "stopped"), ("FAILED_NO_RESOURCE", "failed")])
def test_refresh_follows_the_managed_job(tmp_path, tiny_spec, fake_sky, monkeypatch, status, state):
    import types

    from stickgen_core.jobs import skypilot

    run = launch(tiny_spec(backend="skypilot", run_name="sp", backend_settings={"bucket": "gs://b/r", "poll_s": 0}),
                 tmp_path / "ws")
    records = [{"job_id": 1, "job_name": "stickgen-sp", "status": types.SimpleNamespace(name="FAILED"), "recovery_count": 0},
               {"job_id": 7, "job_name": "stickgen-sp", "status": types.SimpleNamespace(name=status), "recovery_count": 2},
               {"job_id": 9, "job_name": "someone-else", "status": types.SimpleNamespace(name="SUCCEEDED")}]
    monkeypatch.setattr(skypilot, "managed_job_records", lambda: records)
    assert run.status()["state"] == state  # status() refreshes through the backend
    assert run.job_state()["sky_status"] == status and run.job_state()["sky_recoveries"] == 2
    assert ("sky jobs logs -n stickgen-sp" in (run.status().get("error") or "")) == (state == "failed")


def test_refresh_keeps_the_state_when_skypilot_does_not_answer_and_asks_at_most_every_poll_s(
        tmp_path, tiny_spec, fake_sky, monkeypatch):
    from stickgen_core.jobs import skypilot

    run = launch(tiny_spec(backend="skypilot", run_name="sp", backend_settings={"bucket": "gs://b/r", "poll_s": 3600}),
                 tmp_path / "ws")
    calls = []

    def down():
        calls.append(1)
        raise ConnectionError("API server not running")

    monkeypatch.setattr(skypilot, "managed_job_records", down)
    run.job_state()  # launched: never asked yet
    assert run.status()["state"] == "running" and "API server not running" in run.job_state()["sky_error"]
    assert run.status()["state"] == "running" and len(calls) == 1  # within poll_s: not asked again
