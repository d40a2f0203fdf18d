"""`stickgen jobs fetch`: checkpoints home from the pod's agent or, with no pod, the network volume
(moto's S3 server and the real agent on 127.0.0.1)."""

import hashlib
import json
import threading

import pytest

from stickgen_core.cli import main
from stickgen_core.errors import JobError
from stickgen_core.jobs import launch
from stickgen_core.jobs.fetch import fetch

from .test_volume_storage import RP_KEY, blob, rp, runpod_spec  # noqa: F401 - the fixture

BEST = "model_checkpoint_best.pth"


@pytest.fixture
def remote_run(tmp_path, rp, s3_volume, tiny_spec):  # noqa: F811 - rp is the fixture
    run = launch(runpod_spec(tiny_spec, s3_volume), tmp_path / "ws")
    run.set_status("completed")
    return run


def put(s3_volume, run, name, data):
    key = f"runs/{run.run_id}/checkpoints/{name}"
    s3_volume.client.put_object(Bucket=s3_volume.volume_id, Key=key, Body=data)
    return key


def test_fetch_from_the_volume_is_byte_identical(remote_run, s3_volume, tmp_path, capsys):
    run = remote_run
    run.update_job_state(terminated=True)  # no pod: the volume is the only source
    key = put(s3_volume, run, BEST, blob(3 << 20, seed=5))
    assert main(["jobs", "fetch", run.run_id, "--workspace", str(tmp_path / "ws")]) == 0
    local = run.root / "checkpoints" / BEST
    volume_copy = s3_volume.client.get_object(Bucket=s3_volume.volume_id, Key=key)["Body"].read()
    assert local.read_bytes() == volume_copy
    out = capsys.readouterr().out
    assert "from the volume" in out and hashlib.sha256(volume_copy).hexdigest()[:16] in out
    assert run.checkpoint("best") == local  # where Eval and SFT look for a run's checkpoint
    assert run.job_state()["fetched"][BEST]["source"] == "volume"


def test_all_skips_what_is_not_written_yet_and_to_puts_it_elsewhere(remote_run, s3_volume, tmp_path):
    run = remote_run
    run.update_job_state(terminated=True)
    put(s3_volume, run, BEST, b"best bytes")
    rows = fetch(run, "all", tmp_path / "elsewhere")
    assert [r["name"] for r in rows] == [BEST] and (tmp_path / "elsewhere" / BEST).read_bytes() == b"best bytes"
    with pytest.raises(JobError, match="no model_checkpoint_latest.pth on volume"):
        fetch(run, "latest")
    assert main(["jobs", "fetch", run.run_id, "latest", "--workspace", str(tmp_path / "ws")]) == 2


@pytest.fixture
def agent(remote_run):
    """The real agent over the run's folder on this machine (the pod), the run pointed at it."""
    from stickgen_core.jobs.agent import serve

    pod_dir = remote_run.root.parent.parent / "pod-run"
    (pod_dir / "checkpoints").mkdir(parents=True)
    server = serve(pod_dir, 0, token="agent-token-123", host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (remote_run.root / ".agent_token").write_text("agent-token-123")
    remote_run.update_job_state(agent_url=f"http://127.0.0.1:{server.server_address[1]}", terminated=False,
                                pod_ended=False)
    yield pod_dir
    server.shutdown()
    server.server_close()


def test_fetch_from_the_agent_continues_a_part_and_checks_after_the_body(remote_run, agent, s3_volume):
    run, data = remote_run, blob(2 << 20, seed=9)
    (agent / "checkpoints" / BEST).write_bytes(data)
    rows = fetch(run, "best")
    assert rows[0]["source"] == "agent" and (run.root / "checkpoints" / BEST).read_bytes() == data

    # an interrupted try left a wrong first half: the agent sends only the rest (a ranged GET), and the
    # digest, checked once the body is in, refuses the result; nothing is kept
    dest = run.root / "checkpoints" / BEST
    dest.unlink()
    version = next(c for c in __import__("stickgen_core.jobs.agent_client", fromlist=["x"]).AgentClient(
        run.job_state()["agent_url"], "agent-token-123").checkpoints())["version"]
    dest.with_name(BEST + ".part").write_bytes(b"\0" * (1 << 20))
    dest.with_name(BEST + ".part.json").write_text(json.dumps(
        {"identity": f"agent:{run.job_state()['agent_url']}/{BEST}@{version}"}))
    with pytest.raises(JobError, match="the downloaded bytes have sha256"):
        fetch(run, "best")
    assert not dest.exists() and not dest.with_name(BEST + ".part").exists()

    # the right first half: continued and verified
    dest.with_name(BEST + ".part").write_bytes(data[: 1 << 20])
    dest.with_name(BEST + ".part.json").write_text(json.dumps(
        {"identity": f"agent:{run.job_state()['agent_url']}/{BEST}@{version}"}))
    fetch(run, "best")
    assert dest.read_bytes() == data


def test_an_unreachable_agent_falls_back_to_the_volume(remote_run, s3_volume):
    run = remote_run
    run.update_job_state(agent_url="http://127.0.0.1:9", terminated=False, pod_ended=False)
    (run.root / ".agent_token").write_text("t")
    put(s3_volume, run, BEST, b"from the volume")
    rows = fetch(run, "best")
    assert rows[0]["source"] == "volume" and (run.root / "checkpoints" / BEST).read_bytes() == b"from the volume"


def test_a_local_run_copies_with_to(tmp_path, tiny_spec):
    from stickgen_core.jobs.registry import _new_run_dir
    from stickgen_core.jobs.run import Run, write_json

    root = _new_run_dir(tmp_path / "ws", tiny_spec())
    write_json(root / "run.json", {"job": tiny_spec().to_dict()})
    (root / "checkpoints").mkdir()
    (root / "checkpoints" / BEST).write_bytes(b"local")
    rows = fetch(Run(root), "best", tmp_path / "out")
    assert rows[0]["source"] == "local" and (tmp_path / "out" / BEST).read_bytes() == b"local"


def test_a_cancelled_fetch_keeps_its_part_and_the_next_one_continues(remote_run, s3_volume):
    run = remote_run
    run.update_job_state(terminated=True)
    data = blob(3 << 20, seed=2)
    put(s3_volume, run, BEST, data)
    seen = []
    with pytest.raises(InterruptedError):
        fetch(run, "best", progress=lambda done, total: seen.append(done), should_stop=lambda: len(seen) >= 1)
    part = run.root / "checkpoints" / (BEST + ".part")
    assert 0 < part.stat().st_size < len(data) and not (run.root / "checkpoints" / BEST).exists()
    kept = part.stat().st_size
    done = []
    fetch(run, "best", progress=lambda d, total: done.append(d))
    assert (run.root / "checkpoints" / BEST).read_bytes() == data and done[0] > kept  # it went on from the part


def test_a_source_that_cuts_every_request_is_continued_to_the_end(tmp_path):
    """RunPod's proxy ends requests after 100 s: each try brings more, and fetch goes on until it is whole."""
    import io

    from stickgen_core.errors import VolumeStorageError
    from stickgen_core.jobs.fetch import continuing
    from stickgen_core.jobs.volume_storage import resumable_download

    data = bytes(range(10))
    opened = []

    class Cut(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 3:
                raise TimeoutError("proxy cut the request")
            return super().read(min(3 - self.tell(), n if n > 0 else 3))

    def open_range(offset):
        opened.append(offset)
        return Cut(data[offset:])
    dest = tmp_path / "c.pth"
    want = ("sha256", hashlib.sha256(data).hexdigest())
    continuing(lambda: resumable_download(dest, 10, "v1", open_range, lambda: want, None, "c"), dest)
    assert dest.read_bytes() == data and opened == [0, 3, 6, 9]

    def refused(offset):  # no progress at all: the interruption is the answer
        raise ConnectionResetError("connection reset")
    with pytest.raises(VolumeStorageError, match="interrupted after 0 of 10 bytes"):
        continuing(lambda: resumable_download(tmp_path / "d.pth", 10, "v1", refused, lambda: want, None, "d"),
                   tmp_path / "d.pth")
