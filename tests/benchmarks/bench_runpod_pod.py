"""A RunPod run with this machine playing the pod, against the loopback GraphQL fake and moto's S3
server: seconds from ``launch`` to the first metric read through the pod's agent, from the run's end
to no pod left in the fake (the linger set to 0), and the agent's checkpoint download (time to the
first byte, MB/s, digest after the body).

    python tests/benchmarks/bench_runpod_pod.py [--epochs 3] [--checkpoint-mb 256]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests.jobs.fake_runpod

KEY = "rp-bench-key-0000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_data(path: Path) -> Path:
    import torch

    from stickgen_core.io import atomic_torch_save
    from stickgen_core.synth import SynthConfig, generate_dataset

    samples = generate_dataset(24, seed=0, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(1)
    for s in samples:
        s["embedding"] = torch.randn(16, generator=g)
    atomic_torch_save({"sequences": samples, "embedding_model": "bench", "embedding_dim": 16}, path)
    return path


def pod_run(epochs: int) -> dict[str, float]:
    import boto3
    from moto.server import ThreadedMotoServer

    from stickgen_core.jobs import JobSpec, launch
    from tests.jobs.fake_runpod import FakeRunPod

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    url = "http://%s:%d" % s3.get_host_and_port()
    vid = f"vol{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a",
                 aws_secret_access_key="b").create_bucket(Bucket=vid)
    tmp = Path(tempfile.mkdtemp(prefix="stickgen-bench-pod-"))
    os.environ.update(RUNPOD_S3_ACCESS_KEY="user_bench", RUNPOD_S3_SECRET_KEY="rps_bench", STICKGEN_RUNPOD_S3_ENDPOINT=url,
                      RUNPOD_API_KEY=KEY, STICKGEN_CACHE=str(tmp / "cache"), HF_HUB_OFFLINE="1")
    data = _tiny_data(tmp / "pretrain_data_embedded.pt")
    port = _free_port()
    overrides = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64},
                 "training": {"max_frames": 32, "warmup_steps": 2, "log_interval": 1, "val_fraction": 0.25, "seed": 3}}
    spec = JobSpec(stage="pretrain", config="small", data=str(data), epochs=epochs, batch_size=4, overrides=overrides,
                   backend="runpod", backend_settings={"image": "bench:1", "gpu_types": ["GPU A"], "poll_s": 0.0,
                                                        "network_volume_id": vid, "data_center_id": "EU-TEST-1",
                                                        "agent_port": port, "linger_s": 0.0,
                                                        "agent_url_template": "http://127.0.0.1:{port}"})
    out: dict[str, float] = {}
    with FakeRunPod(KEY) as fake:
        os.environ["RUNPOD_API_BASE_URL"] = fake.url
        t0 = time.perf_counter()
        run = launch(spec, tmp / "ws")
        pod_id = run.job_state()["pod_id"]
        env = {k: v for k, v in os.environ.items() if k != "RUNPOD_API_KEY"}
        env.update({e.split("=", 1)[0]: e.split("=", 1)[1] for e in fake.pod_state[pod_id]["env"]})
        env.update(STICKGEN_RUN_DIR=str(tmp / "vol" / "runs" / run.run_id), STICKGEN_DATA_DIR=str(tmp / "vol" / "data"),
                   TRAIN_DATA_PATH=str(data), STICKGEN_DEVICE="cpu", STICKGEN_AGENT_HOST="127.0.0.1",
                   RUNPOD_POD_ID=pod_id, RUNPOD_API_KEY=fake.pod_keys[pod_id])
        pod = subprocess.Popen([sys.executable, "-m", "stickgen_core.cli", "runpod-entrypoint"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not run.read_metrics(0)[0]:
                time.sleep(0.1)
            out["launch_to_first_metric_s"] = time.perf_counter() - t0
            while run.status()["state"] not in ("completed", "failed"):
                time.sleep(0.1)
            t1 = time.perf_counter()
            out["state"] = run.status()["state"]
            pod.wait(timeout=300)
            while fake.live_pods():
                time.sleep(0.05)
            out["end_to_no_pod_s"] = time.perf_counter() - t1
        finally:
            if pod.poll() is None:
                pod.kill()
    s3.stop()
    return out


def download(mb: int) -> dict[str, float]:
    from stickgen_core.jobs.agent import serve
    from stickgen_core.jobs.agent_client import AgentClient

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs" / "r"
        (root / "checkpoints").mkdir(parents=True)
        (root / "status.json").write_text(json.dumps({"state": "completed"}))
        with open(root / "checkpoints" / "model_checkpoint_best.pth", "wb") as fh:
            for _ in range(mb):
                fh.write(os.urandom(1 << 20))
        server = serve(root, 0, token="t", host="127.0.0.1")
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = AgentClient(f"http://127.0.0.1:{server.server_address[1]}", "t", timeout=60)
        t0 = time.perf_counter()
        with client._request("GET", "/checkpoints/model_checkpoint_best.pth") as resp:
            resp.read(1)
            first = time.perf_counter() - t0
            resp.read()
        t0 = time.perf_counter()
        client.download("model_checkpoint_best.pth", Path(tmp) / "got.pth")
        whole = time.perf_counter() - t0
        server.shutdown()
        server.server_close()
    return {"first_byte_ms": first * 1000, "download_verified_mb_s": mb * (1 << 20) / 1e6 / whole}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--checkpoint-mb", type=int, default=256)
    args = p.parse_args(argv)
    r = pod_run(args.epochs)
    print(f"launch -> first remote metric: {r['launch_to_first_metric_s']:.1f} s (upload, pod, entrypoint start, "
          "first training step, agent poll)")
    print(f"run {r['state']} -> no pod in the fake: {r['end_to_no_pod_s']:.1f} s (linger 0)")
    d = download(args.checkpoint_mb)
    print(f"agent download of a {args.checkpoint_mb} MiB checkpoint: first byte {d['first_byte_ms']:.1f} ms, "
          f"{d['download_verified_mb_s']:.0f} MB/s with the digest checked after the body")
    return 0


if __name__ == "__main__":
    sys.exit(main())
