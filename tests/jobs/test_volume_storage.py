"""Network volumes through the S3 API, against moto's real server on 127.0.0.1."""

import hashlib
import json
import logging
import os

import pytest

from stickgen_core.errors import VolumeStorageError
from stickgen_core.jobs.volume_storage import (DATA_PREFIX, ChangedError, Volume, endpoint_for,
                                               resumable_download)

from .conftest import S3_SECRET


def blob(n, seed=0):
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32) + b"x" * (n % 32)


def calls(volume, op):
    """A list that grows by one entry (the request's params) per ``op`` call the client makes."""
    seen = []
    volume.client().meta.events.register(f"before-parameter-build.s3.{op}", lambda params, **_: seen.append(dict(params)))
    return seen


@pytest.fixture
def vol(s3_volume):
    return Volume.from_settings(s3_volume.settings)


def test_endpoint_per_data_centre_and_settings_errors(monkeypatch):
    monkeypatch.delenv("STICKGEN_RUNPOD_S3_ENDPOINT", raising=False)
    assert endpoint_for("EU-RO-1") == "https://s3api-eu-ro-1.runpod.io"
    us = Volume.from_settings({"network_volume_id": "v1", "data_center_id": "us-ks-2"})
    assert us.endpoint == "https://s3api-us-ks-2.runpod.io" and us.data_center_id == "US-KS-2"  # the region
    with pytest.raises(VolumeStorageError, match="network_volume_id: a RunPod run needs a network volume"):
        Volume.from_settings({"data_center_id": "EU-RO-1"})
    with pytest.raises(VolumeStorageError, match="data_center_id"):
        Volume.from_settings({"network_volume_id": "v1"})
    # an endpoint override stands in for the data centre (tests, a proxy)
    assert Volume.from_settings({"network_volume_id": "v1", "s3_endpoint_url": "http://127.0.0.1:9"}).endpoint == \
        "http://127.0.0.1:9"


def test_paths_on_the_volume():
    v = Volume("v1", "EU-RO-1")
    assert v.key_of("/runpod-volume/runs/a/x.pth") == "runs/a/x.pth"
    assert v.path_of("runs/a/x.pth") == "/runpod-volume/runs/a/x.pth"
    assert v.key_of("/runpod-volumex/a") is None and v.key_of("data/a.pt") is None
    assert v.key_of("/runpod-volume/../etc/passwd") is None


def test_upload_is_content_addressed_reused_and_byte_identical(vol, s3_volume, tmp_path):
    src = tmp_path / "pretrain_data.pt"
    data = blob(20 << 20)  # above the multipart threshold: parts of 16 MiB
    src.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    seen = []
    path = vol.upload(src, sink=lambda done, total, rate, eta: seen.append((done, total)))
    assert path == f"/runpod-volume/{DATA_PREFIX}/{digest}/pretrain_data.pt"
    body = s3_volume.client.get_object(Bucket=s3_volume.volume_id, Key=vol.key_of(path))["Body"].read()
    assert body == data
    assert seen[-1] == (len(data), len(data)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    puts = calls(vol, "CreateMultipartUpload") + calls(vol, "PutObject")
    parts = calls(vol, "UploadPart")
    assert vol.upload(src) == path  # the second run: HEAD finds it, nothing is sent
    assert not puts and not parts


def test_a_short_object_at_the_key_is_replaced(vol, s3_volume, tmp_path):
    src = tmp_path / "d.pt"
    src.write_bytes(blob(5000))
    key = f"{DATA_PREFIX}/{hashlib.sha256(src.read_bytes()).hexdigest()}/d.pt"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=blob(4999))  # one byte short
    puts = calls(vol, "PutObject")
    vol.upload(src)
    assert len(puts) == 1
    assert s3_volume.client.get_object(Bucket=s3_volume.volume_id, Key=key)["Body"].read() == src.read_bytes()


def test_download_byte_identical_resumes_and_checks_after_the_body(vol, s3_volume, tmp_path):
    data = blob(3 << 20, seed=7)
    key = "runs/r1/checkpoints/model_checkpoint_best.pth"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=data)  # as a pod wrote it: no metadata
    dest = tmp_path / "home" / "model_checkpoint_best.pth"
    assert vol.download(key, dest) == hashlib.sha256(data).hexdigest()
    assert dest.read_bytes() == data and not list(dest.parent.glob("*.part*"))

    # an interrupted earlier try: 1 MiB kept in the .part; only the rest is asked for
    dest.unlink()
    head = vol.head(key)
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(data[: 1 << 20])
    dest.with_name(dest.name + ".part.json").write_text(json.dumps(
        {"identity": f"s3:{s3_volume.volume_id}/{key}@{head['ETag']}"}))
    gets = calls(vol, "GetObject")
    vol.download(key, dest)
    assert dest.read_bytes() == data
    assert [g.get("Range") for g in gets] == [f"bytes={1 << 20}-"]

    # a .part whose kept bytes are wrong: the digest (the ETag's MD5 here), checked once the body is in,
    # refuses them; a second, whole download has the MD5 and is kept
    dest.unlink()
    part.write_bytes(b"\0" * (1 << 20))
    dest.with_name(dest.name + ".part.json").write_text(json.dumps(
        {"identity": f"s3:{s3_volume.volume_id}/{key}@{head['ETag']}"}))
    gets.clear()
    assert vol.download(key, dest) == hashlib.sha256(data).hexdigest() and dest.read_bytes() == data
    assert [g.get("Range") for g in gets] == [f"bytes={1 << 20}-", None] and not part.exists()


def test_an_etag_that_is_not_an_md5_is_settled_by_a_second_download(vol, s3_volume, tmp_path, monkeypatch, caplog):
    key = "runs/r1/checkpoints/model_checkpoint_best.pth"
    data = blob(70000, seed=8)
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=data)
    monkeypatch.setattr(Volume, "expected_sha256", lambda self, k, h: ("md5", "0" * 32))  # 32 hex, not the MD5
    gets = calls(vol, "GetObject")
    dest = tmp_path / "best.pth"
    assert vol.download(key, dest) == hashlib.sha256(data).hexdigest() and dest.read_bytes() == data
    assert len(gets) == 2 and "ETag is not the MD5" in caplog.text


def test_a_part_of_another_version_starts_over(vol, s3_volume, tmp_path):
    key = "runs/r1/checkpoints/model_checkpoint_latest.pth"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=blob(4096, seed=1))
    dest = tmp_path / "latest.pth"
    dest.with_name(dest.name + ".part").write_bytes(b"old" * 100)
    dest.with_name(dest.name + ".part.json").write_text(json.dumps({"identity": "s3:v/k@\"an-older-etag\""}))
    gets = calls(vol, "GetObject")
    vol.download(key, dest)
    assert dest.read_bytes() == blob(4096, seed=1) and [g.get("Range") for g in gets] == [None]


def test_sha256_from_our_metadata_or_a_sidecar(vol, s3_volume, tmp_path):
    src = tmp_path / "a.pt"
    src.write_bytes(blob(1000))
    key = vol.key_of(vol.upload(src))
    assert vol.expected_sha256(key, vol.head(key)) == ("sha256", hashlib.sha256(blob(1000)).hexdigest())
    other = "runs/r/checkpoints/x.pth"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=other, Body=b"abc")
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=other + ".sha256", Body=("f" * 64 + "  x.pth\n").encode())
    with pytest.raises(VolumeStorageError, match="the source says f{64}"):
        vol.download(other, tmp_path / "x.pth")


def test_a_source_that_changes_mid_download_keeps_nothing(tmp_path):
    def changed(offset):
        raise ChangedError("k")

    with pytest.raises(VolumeStorageError, match="changed while being downloaded"):
        resumable_download(tmp_path / "c.pth", 10, "id", changed, lambda: None, None, "c")
    assert not list(tmp_path.iterdir()) or list(tmp_path.iterdir()) == [tmp_path / "c.pth.part.json"]


def test_a_dropped_connection_keeps_the_part_for_the_next_try(tmp_path):
    class Body:
        def __init__(self):
            self.sent = False

        def read(self, n):
            if self.sent:
                raise ConnectionResetError("peer went away")
            self.sent = True
            return b"a" * 6

    with pytest.raises(VolumeStorageError, match="interrupted after 6 of 10 bytes"):
        resumable_download(tmp_path / "c.pth", 10, "id", lambda off: Body(), lambda: None, None, "c")
    assert (tmp_path / "c.pth.part").read_bytes() == b"a" * 6
    sha = resumable_download(tmp_path / "c.pth", 10, "id", lambda off: __import__("io").BytesIO(b"b" * (10 - off)),
                             lambda: ("sha256", hashlib.sha256(b"a" * 6 + b"b" * 4).hexdigest()), None, "c")
    assert (tmp_path / "c.pth").read_bytes() == b"a" * 6 + b"b" * 4 and sha


def test_missing_keys_and_unreachable_endpoint_are_clear_and_secret_free(s3_volume, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "d.pt"
    src.write_bytes(b"12345")
    monkeypatch.setenv("STICKGEN_RUNPOD_S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    vol = Volume.from_settings(s3_volume.settings)
    vol.client().meta.config.retries["max_attempts"] = 1
    with pytest.raises(VolumeStorageError, match="is not reachable") as err:
        vol.upload(src)
    assert S3_SECRET not in str(err.value) and S3_SECRET not in caplog.text
    monkeypatch.delenv("RUNPOD_S3_SECRET_KEY")
    with pytest.raises(VolumeStorageError, match="RUNPOD_S3_ACCESS_KEY and RUNPOD_S3_SECRET_KEY"):
        Volume.from_settings(s3_volume.settings).client()


def test_no_such_volume_is_named(s3_volume, tmp_path):
    vol = Volume.from_settings({**s3_volume.settings, "network_volume_id": "vol-does-not-exist"})
    src = tmp_path / "d.pt"
    src.write_bytes(b"1")
    with pytest.raises(VolumeStorageError, match="vol-does-not-exist"):
        vol.upload(src)


def test_secret_is_in_no_log_line(vol, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    src = tmp_path / "d.pt"
    src.write_bytes(blob(2000))
    vol.download(vol.key_of(vol.upload(src)), tmp_path / "back.pt")
    assert S3_SECRET not in caplog.text and os.environ["RUNPOD_S3_SECRET_KEY"] == S3_SECRET


# --------------------------------------------------------------------------- launch: the data goes first
RP_KEY = "rp-test-key-volume-5c2e"


@pytest.fixture
def rp(monkeypatch, s3_volume):
    from .fake_runpod import FakeRunPod

    with FakeRunPod(RP_KEY) as server:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", server.url)
        monkeypatch.setenv("RUNPOD_API_KEY", RP_KEY)
        monkeypatch.setenv("HOME", "/nonexistent")
        yield server


def pod_env(fake, i=-1):
    return {e["key"]: e["value"] for e in fake.deploys[i]["env"]}


def runpod_spec(tiny_spec, s3_volume, **changes):
    settings = {"image": "stickgen/train:1.0", "gpu_types": ["GPU A"], "poll_s": 0.0, **s3_volume.settings}
    return tiny_spec(backend="runpod", backend_settings=settings, **changes)


def test_launch_uploads_the_data_and_the_pod_gets_volume_paths_only(tmp_path, rp, s3_volume, tiny_spec, tiny_data):
    from stickgen_core.jobs import launch

    run = launch(runpod_spec(tiny_spec, s3_volume), tmp_path / "ws")
    env = pod_env(rp)
    digest = hashlib.sha256(tiny_data.read_bytes()).hexdigest()
    assert env["TRAIN_DATA_PATH"] == f"/runpod-volume/{DATA_PREFIX}/{digest}/{tiny_data.name}"
    assert json.loads(env["STICKGEN_JOB"])["data"] == env["TRAIN_DATA_PATH"] and env["MODEL_VARIANT"] == "small"
    body = s3_volume.client.get_object(Bucket=s3_volume.volume_id, Key=env["TRAIN_DATA_PATH"][15:])["Body"].read()
    assert body == tiny_data.read_bytes()
    assert run.spec.data == str(tiny_data.resolve())  # run.json keeps the local truth (a resume uploads again)
    assert run.job_state()["volume_inputs"]["data"] == env["TRAIN_DATA_PATH"]
    assert not any(str(tmp_path) in v or str(tiny_data.parent) in v for v in env.values())
    assert S3_SECRET not in json.dumps(rp.deploys) and not any(S3_SECRET.encode() in p.read_bytes()
                                                                for p in run.root.rglob("*") if p.is_file())


def test_a_second_launch_sends_nothing_again(tmp_path, rp, s3_volume, tiny_spec):
    from stickgen_core.jobs import launch

    launch(runpod_spec(tiny_spec, s3_volume), tmp_path / "ws")
    before = s3_volume.client.list_objects_v2(Bucket=s3_volume.volume_id)["Contents"]
    from stickgen_core.jobs import volume_storage

    sent = []
    real = volume_storage.Volume.client

    def counting(self):
        c = real(self)
        if not getattr(c, "_counted", False):
            c.meta.events.register("before-call.s3.PutObject", lambda **kw: sent.append(1))
            c._counted = True
        return c
    volume_storage.Volume.client = counting
    try:
        launch(runpod_spec(tiny_spec, s3_volume), tmp_path / "ws")
    finally:
        volume_storage.Volume.client = real
    after = s3_volume.client.list_objects_v2(Bucket=s3_volume.volume_id)["Contents"]
    assert not sent and [o["Key"] for o in after] == [o["Key"] for o in before]
    assert pod_env(rp, 0)["TRAIN_DATA_PATH"] == pod_env(rp, 1)["TRAIN_DATA_PATH"]


def test_a_custom_config_and_a_local_checkpoint_go_too(tmp_path, rp, s3_volume, tiny_spec):
    import yaml

    from stickgen_core.jobs import launch

    custom = tmp_path / "mine.yaml"
    from stickgen_core.jobs.spec import CONFIG_DIR

    custom.write_text(f"extends: {CONFIG_DIR / 'small.yaml'}\nmodel:\n  d_model: 32\n", encoding="utf-8")
    ckpt = tmp_path / "warm.pth"
    ckpt.write_bytes(b"weights")
    launch(runpod_spec(tiny_spec, s3_volume, config=str(custom), init_from=str(ckpt)), tmp_path / "ws")
    env = pod_env(rp)
    assert env["MODEL_VARIANT"].startswith(f"/runpod-volume/{DATA_PREFIX}/") and env["MODEL_VARIANT"].endswith("/mine.yaml")
    flat = yaml.safe_load(s3_volume.client.get_object(Bucket=s3_volume.volume_id,
                                                      Key=env["MODEL_VARIANT"][15:])["Body"].read())
    assert "extends" not in flat and flat["model"]["d_model"] == 32  # its parents resolved: the pod needs none
    assert env["INIT_FROM_CHECKPOINT"].endswith("/warm.pth") and env["INIT_FROM_CHECKPOINT"].startswith("/runpod-volume/")


def test_preflight_needs_a_volume_and_files_that_exist(tmp_path, rp, s3_volume, tiny_spec, monkeypatch):
    from stickgen_core.errors import JobError
    from stickgen_core.jobs import launch

    spec = runpod_spec(tiny_spec, s3_volume)
    no_volume = spec.replace(backend_settings={k: v for k, v in spec.backend_settings.items() if k != "network_volume_id"})
    with pytest.raises(JobError, match="network_volume_id: a RunPod run needs a network volume"):
        launch(no_volume, tmp_path / "ws")
    with pytest.raises(JobError, match="job.data: no such file 'nowhere.pt' on this machine"):
        launch(spec.replace(data="nowhere.pt"), tmp_path / "ws")
    with pytest.raises(JobError, match="job.init_from: /runpod-volume/runs/x/best.pth is not on network volume"):
        launch(spec.replace(init_from="/runpod-volume/runs/x/best.pth"), tmp_path / "ws")
    monkeypatch.delenv("RUNPOD_S3_SECRET_KEY")
    with pytest.raises(JobError, match="no S3 API key for the network volume: set RUNPOD_S3_ACCESS_KEY"):
        launch(spec, tmp_path / "ws")  # a local split only: the upload would need them
    assert not rp.deploys and not (tmp_path / "ws" / "runs").exists()


def test_sft_from_a_runpod_run_starts_from_its_best_on_the_volume(tmp_path, rp, s3_volume, tiny_spec):
    from stickgen_core.jobs import launch, sft_from

    run = launch(runpod_spec(tiny_spec, s3_volume), tmp_path / "ws")
    best_key = f"runs/{run.run_id}/checkpoints/model_checkpoint_best.pth"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=best_key, Body=b"best")  # the pod wrote it
    run.set_status("completed")
    sft = sft_from(run, data=run.spec.data)
    assert pod_env(rp)["INIT_FROM_CHECKPOINT"] == f"/runpod-volume/{best_key}" == sft.spec.init_from


def test_a_second_upload_does_not_reread_the_file_unless_it_changed(vol, tmp_path, monkeypatch):
    import time

    from stickgen_core.jobs import volume_storage

    src = tmp_path / "big.pt"
    src.write_bytes(blob(4096, seed=3))
    reads = []
    real = volume_storage.file_sha256
    monkeypatch.setattr(volume_storage, "file_sha256", lambda p, *a: reads.append(p) or real(p, *a))
    first = vol.upload(src)
    assert vol.upload(src) == first and len(reads) == 1  # the digest cache: a HEAD, no re-read
    time.sleep(0.01)
    src.write_bytes(blob(4096, seed=4))  # same size, new bytes: a new stamp, hashed again, a new key
    second = vol.upload(src)
    assert len(reads) == 2 and second != first
    assert hashlib.sha256(blob(4096, seed=4)).hexdigest() in second


def test_a_checkpoint_saved_between_head_and_get_is_not_mixed(vol, s3_volume, tmp_path, monkeypatch):
    key = "runs/r1/checkpoints/model_checkpoint_latest.pth"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=b"epoch 1" * 1000)
    old = vol.head(key)
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=b"epoch 2" * 1000)  # a new save
    real = Volume.head
    monkeypatch.setattr(Volume, "head", lambda self, k: old if k == key else real(self, k))
    dest = tmp_path / "latest.pth"
    with pytest.raises(VolumeStorageError, match="changed while being downloaded"):
        vol.download(key, dest)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()
