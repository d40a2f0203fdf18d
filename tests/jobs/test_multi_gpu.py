"""More than one GPU: --gpu-count in the job, torchrun in the plan, the pod's gpuCount and allowed CUDA
versions, the pod's device, and a real 2-process DDP run (gloo on the CPU) through the local pipeline."""

import json
import shlex

import pytest

from stickgen_core.cli import build_parser
from stickgen_core.cli.jobs import spec_from_args
from stickgen_core.errors import JobError, RunPodError
from stickgen_core.jobs import JobSpec, Run, launch, launch_command, resume_run
from stickgen_core.jobs.pipeline import plan
from stickgen_core.jobs.run import write_json

from .fake_runpod import FakeRunPod
from .helpers import wait_for

KEY = "rp-test-key-multi-gpu"


def _run_folder(tmp_path, spec):
    root = tmp_path / "runs" / "r1"
    root.mkdir(parents=True)
    write_json(root / "run.json", {"run_id": "r1", "job": spec.to_dict(), "stage": spec.stage})
    return Run(root)


@pytest.mark.parametrize("gpus", [1, 2, 8])
def test_plan_runs_torchrun_for_several_gpus_and_plain_python_for_one(tmp_path, tiny_spec, gpus):
    run = _run_folder(tmp_path, tiny_spec(gpu_count=gpus))
    (step,) = plan(run, python="/py")
    tail = ["--config", str(run.root / "config.yaml"), "--data_path", run.spec.data, "--run-dir", str(run.root)]
    if gpus == 1:
        assert step.argv == ["/py", "-m", "stickgen_core.train", *tail]
    else:
        assert step.argv == ["/py", "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
                             "--nproc_per_node", str(gpus), "-m", "stickgen_core.train", *tail]


@pytest.mark.parametrize("value, ok", [(1, True), (2, True), (0, False), (-1, False), (True, False), (1.5, False)])
def test_gpu_count_is_a_whole_number_of_at_least_one(tiny_spec, value, ok):
    if ok:
        assert tiny_spec(gpu_count=value).validate().gpu_count == value
    else:  # refused when the spec is made (its fields check themselves)
        with pytest.raises(JobError, match="job.gpu_count"):
            tiny_spec(gpu_count=value)


def test_cli_gpu_count_round_trips_through_the_copied_command(tiny_data):
    spec = JobSpec(stage="pretrain", config="small", data=str(tiny_data), gpu_count=4, backend="runpod",
                   backend_settings={"gpu_types": ["GPU A"], "allowed_cuda_versions": ["12.6", "12.8"]})
    line = launch_command(spec, "/ws")
    assert "--gpu-count 4" in line and "--allowed-cuda-version 12.6 --allowed-cuda-version 12.8" in line
    argv = shlex.split(line)[1:]
    assert spec_from_args(build_parser().parse_args(argv)) == spec
    one = spec_from_args(build_parser().parse_args(["jobs", "launch", "--config", "small", "--data_path", "x.pt"]))
    assert one.gpu_count == 1 and "--gpu-count" not in launch_command(one, "/ws")


# ---------------------------------------------------------------- the pod's side
@pytest.fixture
def fake(monkeypatch):
    with FakeRunPod(KEY) as server:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", server.url)
        monkeypatch.setenv("RUNPOD_API_KEY", KEY)
        monkeypatch.setenv("HOME", "/nonexistent")
        yield server


@pytest.fixture
def pod_spec(tiny_spec, s3_volume):
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key="data/pretrain_data_embedded.pt", Body=b"x")

    def make(gpu_count=1, **settings):
        base = {"image": "stickgen/train:1.0", "gpu_types": ["GPU A"], "poll_s": 0.0, "ready_timeout_s": 30.0,
                **s3_volume.settings, **settings}
        return tiny_spec(backend="runpod", data="/runpod-volume/data/pretrain_data_embedded.pt", gpu_count=gpu_count,
                         backend_settings=base)
    return make


def test_pod_has_the_job_gpus_allowed_cuda_versions_cuda_device_and_its_whole_price(tmp_path, fake, pod_spec):
    run = launch(pod_spec(gpu_count=4), tmp_path / "ws")
    deploy = fake.deploys[0]
    assert deploy["gpuCount"] == 4
    assert deploy["allowedCudaVersions"] == ["12.4", "12.5", "12.6", "12.7", "12.8"]
    env = {e["key"]: e["value"] for e in deploy["env"]}
    assert env["STICKGEN_DEVICE"] == "cuda" and json.loads(env["STICKGEN_JOB"])["gpu_count"] == 4
    assert run.job_state()["price_per_hour"] == pytest.approx(4 * 1.89)  # the fake's SECURE price per GPU
    launch(pod_spec(allowed_cuda_versions=["12.8"]), tmp_path / "ws")
    assert fake.deploys[-1]["allowedCudaVersions"] == ["12.8"] and fake.deploys[-1]["gpuCount"] == 1


@pytest.mark.parametrize("versions", [[], ["12"], ["12.4", "12.4\", x: \"1"], "12.4"])
def test_bad_cuda_versions_are_named_before_any_pod(tmp_path, fake, pod_spec, versions):
    with pytest.raises(RunPodError, match="allowed_cuda_versions"):
        launch(pod_spec(allowed_cuda_versions=versions), tmp_path / "ws")
    assert not fake.deploys


def test_more_gpus_than_a_pod_has_points_to_skypilot(tmp_path, fake, pod_spec):
    launch(pod_spec(gpu_count=8), tmp_path / "ws")
    assert fake.deploys[-1]["gpuCount"] == 8
    with pytest.raises(RunPodError, match="at most 8 GPUs.*skypilot"):
        launch(pod_spec(gpu_count=9), tmp_path / "ws2")


def test_the_pod_device_overrides_the_job_config(tmp_path, tiny_spec):
    import yaml

    from stickgen_core.jobs.entrypoint import prepare_run

    env = {"STICKGEN_JOB": json.dumps(tiny_spec().to_dict()), "STICKGEN_RUN_DIR": str(tmp_path / "r")}
    assert yaml.safe_load((prepare_run(env).root / "config.yaml").read_text())["training"]["device"] == "cpu"
    env.update(STICKGEN_RUN_DIR=str(tmp_path / "r2"), STICKGEN_DEVICE="cuda")
    assert yaml.safe_load((prepare_run(env).root / "config.yaml").read_text())["training"]["device"] == "cuda"


def test_cuda_asked_where_there_is_none_fails_loudly():
    import torch

    from stickgen_core.errors import ConfigError
    from stickgen_core.model.loading import pick_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no such CUDA device here.*driver too old"):
        pick_device("cuda")


# ---------------------------------------------------------------- a real DDP run
def test_two_process_ddp_run_on_the_cpu_completes_with_per_gpu_and_total_batch(tmp_path, tiny_spec):
    """torchrun --nproc_per_node 2 through the local pipeline (gloo): one run folder, rank 0 writes it."""
    spec = tiny_spec(gpu_count=2, epochs=1, batch_size=2,
                     overrides={**tiny_spec().overrides, "training": {**tiny_spec().overrides["training"],
                                                                      "grad_accum_steps": 3}})
    run = launch(spec, tmp_path / "ws")
    state = wait_for(lambda: (lambda s: s if s in ("completed", "failed", "stopped") else None)(run.status()["state"]),
                     "the DDP run to end", timeout=180)
    assert state == "completed", run.status().get("error") or run.log_tail(30)
    info = run.info()
    assert info["batch"] == {"per_gpu": 2, "grad_accum_steps": 3, "processes": 2, "total": 12}
    log = (run.root / "train.log").read_text()
    assert "torch.distributed.run" in log and "--nproc_per_node 2" in log
    assert (run.root / "checkpoints" / "model_checkpoint_latest.pth").is_file()
    # every rank resumes: rank 1 reads the folder's best too (it writes nothing, but it must not crash)
    resume_run(run)
    state = wait_for(lambda: (lambda s: s if s in ("completed", "failed", "stopped") else None)(run.status()["state"]),
                     "the resumed DDP run to end", timeout=180)
    assert state == "completed", run.status().get("error") or run.log_tail(30)
    assert "resumed from" in (run.root / "train.log").read_text()
