"""Tiny embedded data and a tiny job spec for the jobs tests."""

import json
import subprocess
import sys

import pytest
import torch

from stickgen_core.io import atomic_torch_save
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.jobs import JobSpec

EMB = 16
# no action planner: its fit (400 full-batch steps, before the first step) is most of a tiny run's time;
# the jobs tests check the run's life, the planner has its own (tests/test_action_plan.py)
TINY = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64},
        "training": {"max_frames": 32, "warmup_steps": 2, "log_interval": 1, "val_fraction": 0.25, "seed": 3,
                     "device": "cpu", "action_plan": False}}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    samples = generate_dataset(24, seed=0, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(1)
    for s in samples:
        s["embedding"] = torch.randn(EMB, generator=g)
    path = tmp_path_factory.mktemp("jobsdata") / "pretrain_data_embedded.pt"
    atomic_torch_save({"sequences": samples, "embedding_model": "test", "embedding_dim": EMB}, path)
    return path


@pytest.fixture
def tiny_spec(tiny_data):
    def make(**changes):
        base = dict(stage="pretrain", config="small", data=str(tiny_data), epochs=400, batch_size=4,
                    overrides=json.loads(json.dumps(TINY)), backend_settings={"nice": 15})
        base.update(changes)
        return JobSpec(**base)
    return make


@pytest.fixture(autouse=True)
def _no_parallel_env(monkeypatch):
    monkeypatch.delenv("STICKGEN_MAX_LOCAL_RUNS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


# --------------------------------------------------------------------------- a loopback S3 (network volumes)
S3_ACCESS, S3_SECRET = "user_testaccess0001", "rps_testsecret_9f8e7d6c5b4a"


@pytest.fixture(scope="session")
def s3_server():
    """moto's real S3 server on 127.0.0.1 (RunPod's S3 API for network volumes plays against it)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_volume(s3_server, monkeypatch, tmp_path):
    """A fresh network volume (a bucket) on the loopback server, its S3 keys in the env, the endpoint
    override set; ``.settings`` are the RunPod backend settings that name it."""
    import types
    import uuid

    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("RUNPOD_S3_ACCESS_KEY", S3_ACCESS)
    monkeypatch.setenv("RUNPOD_S3_SECRET_KEY", S3_SECRET)
    monkeypatch.setenv("STICKGEN_RUNPOD_S3_ENDPOINT", s3_server)
    monkeypatch.setenv("STICKGEN_CACHE", str(tmp_path / "cache"))  # the upload digest cache
    vid = f"vol{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    client.create_bucket(Bucket=vid)
    return types.SimpleNamespace(url=s3_server, volume_id=vid, client=client,
                                 settings={"network_volume_id": vid, "data_center_id": "EU-TEST-1"})


def mirror_volume(client, volume_id, folder):
    """Copy every object of the volume into ``folder`` (this machine playing a pod that mounts it)."""
    from pathlib import Path

    for page in client.get_paginator("list_objects_v2").paginate(Bucket=volume_id):
        for obj in page.get("Contents", []):
            target = Path(folder) / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(volume_id, obj["Key"], str(target))


def push_folder(client, volume_id, folder):
    """Put every file under ``folder`` on the volume (what a pod wrote to its mount, seen through S3)."""
    from pathlib import Path

    for path in Path(folder).rglob("*"):
        if path.is_file():
            client.upload_file(str(path), volume_id, path.relative_to(folder).as_posix())


@pytest.fixture
def sleepers():
    """Start live child processes that stand in for a run's supervisor or trainer: ``start(seconds=60)``."""
    started: list[subprocess.Popen] = []

    def start(seconds: float = 60) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({float(seconds)})"],
                             stdin=subprocess.DEVNULL)
        started.append(p)
        return p
    yield start
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(10)
