"""What polling a run costs the studio's Train page: Run.status(), read_metrics(offset) and
log_tail() on a local run folder with a long metrics file, idle and beside one busy process;
and how fast a RunPod run's data goes to its network volume (S3 API; moto's server on 127.0.0.1).

    python tests/benchmarks/bench_jobs.py [--lines 20000] [--repeat 200] [--upload-mb 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import busy_neighbour

from stickgen_core.jobs import JobSpec, Run
from stickgen_core.jobs.process import ProcessRef
from stickgen_core.jobs.run import write_json


def make_run(root: Path, lines: int) -> tuple[Run, subprocess.Popen]:
    """A run folder as a live local run leaves it: a live supervisor process, long metrics and log."""
    root.mkdir(parents=True)
    spec = JobSpec(stage="pretrain", config="small", data="x.pt")
    write_json(root / "run.json", {"run_id": root.name, "job": spec.to_dict(), "stage": "pretrain"})
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    write_json(root / "job_state.json", {"attempt": 1, "supervisor": ProcessRef.of(proc.pid).to_dict()})
    write_json(root / "status.json", {"state": "running", "epoch": 3, "global_step": lines})
    row = {"type": "step", "epoch": 3, "lr": 3e-4, "samples_per_s": 120.0, "train_total": 1.0, "train_pose": 0.5}
    with open(root / "metrics.jsonl", "w") as fh:
        fh.writelines(json.dumps({**row, "step": i}) + "\n" for i in range(lines))
    (root / "train.log").write_text("".join(f"2026 INFO stickgen_core.train.trainer: line {i}\n" for i in range(lines)))
    return Run(root), proc


def ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(run: Run, repeat: int) -> dict[str, float]:
    first = ms(lambda: Run(run.root).read_metrics(0), max(repeat // 20, 3))
    state = {"offset": run.read_metrics(0)[1]}

    def poll() -> None:  # what a page does every tick: one new line arrived; read from its offset
        with open(run.root / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps({"type": "step", "step": -1}) + "\n")
        rows, state["offset"] = run.read_metrics(state["offset"])
        assert len(rows) == 1
    return {"status": ms(run.status, repeat), "metrics_all": first, "metrics_poll": ms(poll, repeat),
            "log_tail_50": ms(lambda: run.log_tail(50), repeat)}


def volume_transfer(mb: int) -> list[tuple[str, str, float, float, float, bool]]:
    """Upload a ``mb`` MB split to a loopback S3 volume the way launch does (SHA-256, HEAD, multipart PUT),
    launch it again (HEAD only), and fetch it back (ranged GET, verified): rows for ``goal_table``."""
    import os
    import uuid

    import boto3
    from moto.server import ThreadedMotoServer

    from stickgen_core.jobs.volume_storage import Volume

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    os.environ["STICKGEN_CACHE"] = tempfile.mkdtemp(prefix="stickgen-bench-cache-")  # a cold digest cache
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = "http://%s:%d" % server.get_host_and_port()
    os.environ.update(RUNPOD_S3_ACCESS_KEY="user_bench", RUNPOD_S3_SECRET_KEY="rps_bench")
    vid = f"vol{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a",
                 aws_secret_access_key="b").create_bucket(Bucket=vid)
    volume = Volume(vid, "EU-RO-1", endpoint_url=url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "pretrain_data.pt"
            with open(src, "wb") as fh:
                for _ in range(mb):
                    fh.write(os.urandom(1 << 20))
            t0 = time.perf_counter()
            path = volume.upload(src)
            up = time.perf_counter() - t0
            t0 = time.perf_counter()
            volume.upload(src)
            again = time.perf_counter() - t0
            t0 = time.perf_counter()
            volume.download(volume.key_of(path), Path(tmp) / "back.pt")
            down = time.perf_counter() - t0
    finally:
        server.stop()
    size = mb * (1 << 20) / 1e6
    load = f"{mb} MiB, loopback"
    return [("upload to the volume (hash + multipart PUT), MB/s", load, float("nan"), 100.0, size / up, True),
            ("second launch: already there (cached digest + HEAD), ms", load, float("nan"), 100.0, again * 1000, False),
            ("fetch back (ranged GET, verified after the body), MB/s", load, float("nan"), 100.0, size / down, True)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=20000)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--upload-mb", type=int, default=256, help="size of the split sent to the S3 volume (0: skip)")
    args = p.parse_args(argv)
    if args.upload_mb:
        from benchlib import goal_table

        print("RunPod network volume through its S3 API (moto's server on 127.0.0.1: our client's cost, no network)")
        print(goal_table(volume_transfer(args.upload_mb), why={
            "upload to the volume (hash + multipart PUT), MB/s": "moto's Python server shares the 2 cores with "
            "the client (it parses every part); a real endpoint is bound by the uplink instead",
            "fetch back (ranged GET, verified after the body), MB/s": "the same server, the same 2 cores; the client "
            "writes and hashes (SHA-256 and MD5) every block"}))
        print()
    with tempfile.TemporaryDirectory() as tmp:
        run, proc = make_run(Path(tmp) / "runs" / "bench", args.lines)
        try:
            rows = [("idle", measure(run, args.repeat))]
            with busy_neighbour():
                rows.append(("busy neighbour", measure(run, args.repeat)))
        finally:
            proc.kill()
            proc.wait()
    print(f"polling one run ({args.lines} metric lines), median ms")
    print(f"{'condition':16} {'status()':>9} {'read_metrics(0)':>16} {'read_metrics(+1)':>18} {'log_tail(50)':>13}")
    for name, r in rows:
        print(f"{name:16} {r['status']:9.2f} {r['metrics_all']:16.1f} {r['metrics_poll']:18.2f} {r['log_tail_50']:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
