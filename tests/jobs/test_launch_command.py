"""What the studio's launch form relies on: the exact CLI line of a spec, preflight errors, delete refusing
a live run, and a config's diff from the file it extends."""

import os
import shlex

import pytest

from stickgen_core.cli import build_parser
from stickgen_core.cli.jobs import spec_from_args
from stickgen_core.config import base_config_path, config_diff, read_config_dict
from stickgen_core.errors import JobError
from stickgen_core.jobs import JobSpec, LoraSpec, Run, delete_run, launch_command, preflight
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import write_json


def parse(line):
    argv = shlex.split(line)
    assert argv[:3] == ["stickgen", "jobs", "launch"]
    return spec_from_args(build_parser().parse_args(argv[1:]))


@pytest.mark.parametrize("spec", [
    JobSpec(stage="pretrain", config="small", data="/d/pre train.pt", run_name="r1", epochs=3, batch_size=4,
            learning_rate=0.0003, loss_weights={"pose": 2.0, "physics": 0.0}, backend_settings={"nice": 10}),
    JobSpec(stage="sft", config="sft_small", data="/d/sft.pt", init_from="/r/best.pth",
            lora=LoraSpec(enabled=True, rank=4, alpha=8, dropout=0.1, target_modules=["blocks", "pose_head"]),
            backend_settings={"nice": 5}),
    JobSpec(stage="sft", config="sft_small", data="/d/sft.pt", lora=LoraSpec(enabled=False),
            resume_from="/r/latest.pth", backend_settings={"nice": 10}),
    JobSpec(stage="pretrain", config="small", data="/runpod-volume/x'y.pt", backend="runpod",
            backend_settings={"image": "me/img:1", "gpu_types": ["GPU A", "GPU B"], "cloud_type": "COMMUNITY",
                              "network_volume_id": "vol1", "container_disk_gb": 40}),
    JobSpec(stage="pretrain", config="small", data="/runpod-volume/d.pt", backend="runpod",
            backend_settings={"interruptible": True, "bid_per_gpu": 0.4, "interruption_retries": 2, "pod_end": "stop",
                              "linger_s": 60.0}),
])
def test_cli_line_launches_the_same_spec(spec):
    assert parse(launch_command(spec, "/ws")) == spec


def test_cli_line_refuses_what_it_cannot_express():
    with pytest.raises(JobError, match="overrides"):
        launch_command(JobSpec(stage="pretrain", config="small", data="x.pt", overrides={"model": {"d_model": 8}}), "/ws")


def test_preflight_names_the_field(tmp_path):
    with pytest.raises(JobError, match="job.data: no such file"):
        preflight(JobSpec(stage="pretrain", config="small", data=str(tmp_path / "missing.pt")))
    with pytest.raises(JobError, match="job.epochs"):
        preflight(JobSpec(stage="pretrain", config="small", data="x.pt", epochs=0))
    with pytest.raises(JobError, match="unknown RunPod setting"):
        preflight(JobSpec(stage="pretrain", config="small", data="x.pt", backend="runpod",
                          backend_settings={"gpu": "A100"}))


def test_delete_refuses_a_running_run_and_removes_a_finished_one(tmp_path):
    root = tmp_path / "ws" / "runs" / "r"
    root.mkdir(parents=True)
    write_json(root / "run.json", {"job": JobSpec(stage="pretrain", config="small", data="x.pt").to_dict()})
    write_json(root / "status.json", {"state": "running"})
    write_json(root / "job_state.json", {"supervisor": ProcessRef.of(os.getpid()).to_dict()})  # alive: this process
    with pytest.raises(JobError, match="stop it before deleting"):
        delete_run(Run(root))
    assert root.is_dir()
    write_json(root / "status.json", {"state": "completed"})
    write_json(root / "job_state.json", {})  # its processes are gone (while one lives, delete waits: test_local_state)
    delete_run(Run(root))
    assert not root.exists()


def test_config_diff_from_its_base():
    sft = JobSpec(stage="sft", config="sft_small", data="x.pt").config_path()
    base = base_config_path(sft)
    assert base is not None and base.name == "small.yaml"
    diff = dict((k, (a, b)) for k, a, b in config_diff(read_config_dict(base), read_config_dict(sft)))
    assert diff["training.stage"] == ("pretrain", "sft") and "training.epochs" in diff
    assert "model.d_model" not in diff


def test_preflight_refuses_an_empty_split_before_anything_runs(tmp_path):
    """A real export whose SFT bar keeps nothing: launching on its SFT split is refused up front (the job
    would otherwise fail only after its embed step); the pretrain split of the same export is fine."""
    from stickgen_core.annotate import annotate
    from stickgen_core.curation import CurationConfig, apply_thresholds, export_splits
    from stickgen_core.io import save_dataset
    from stickgen_core.synth import generate_dataset

    save_dataset(generate_dataset(12, seed=2), tmp_path / "clips.pt")
    table = annotate(tmp_path / "clips.pt", cache_dir=tmp_path / "cache")
    # every source counts as synthetic with a 0.5 penalty: no clip reaches the 0.9 SFT bar
    cfg = CurationConfig(min_quality_pretrain=0.0, min_quality_sft=0.9, synthetic_quality_penalty=0.5,
                         synthetic_sources=sorted(map(str, table["source"].unique())))
    paths = export_splits(table, apply_thresholds(table, cfg), tmp_path / "curated", cfg)
    with pytest.raises(JobError, match=r"job.data: .*sft_data.pt is an empty sft split .*Curate page"):
        preflight(JobSpec(stage="sft", config="sft_small", data=str(paths["sft"])))
    preflight(JobSpec(stage="pretrain", config="small", data=str(paths["pretrain"])))
