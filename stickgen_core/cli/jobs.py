"""Job commands: ``stickgen jobs launch|list|stop|resume|sft-from|logs``, ``agent``, ``runpod-entrypoint``."""

from __future__ import annotations

import argparse
import json
import os

from ..errors import JobError
from ..run_state import RunState


def _workspace(args: argparse.Namespace) -> str:
    return args.workspace or os.environ.get("STICKGEN_WORKSPACE") or "."


def _client(args: argparse.Namespace):
    """The workspace's JobClient: every command below is one of its calls, printed."""
    from ..jobs import JobClient

    return JobClient(_workspace(args))


def _print_run(run, as_json: bool, verb: str) -> None:
    row = run.summary()
    if as_json:
        print(json.dumps({**row, "job_state": _public_state(run)}, default=str))
        return
    extra = ""
    st = run.job_state()
    if st.get("pod_id"):
        price = f", ~${st['price_per_hour']:.2f}/h" if st.get("price_per_hour") else ""
        extra = f" on pod {st['pod_id']} ({st.get('gpu_type')}{price})"
    print(f"{verb} {row['run_id']}: {row['state']}{extra}  [{row['path']}]")


def _public_state(run) -> dict:
    keep = ("attempt", "pod_id", "gpu_type", "price_per_hour", "agent_url", "remote_best", "remote_latest",
            "terminated", "pod_status", "cost_per_hr", "unreachable")
    return {k: v for k, v in run.job_state().items() if k in keep}


def _loss_weights(pairs: list[str] | None) -> dict[str, float]:
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise JobError(f"--loss-weight: expected NAME=NUMBER (e.g. pose=1.0), got {pair!r}")
    return out


def spec_from_args(args: argparse.Namespace):
    """The JobSpec a `jobs launch` command line describes."""
    from ..jobs import JobSpec, LoraSpec

    lora = None
    if args.lora or args.lora_rank or args.lora_alpha or args.lora_dropout is not None or args.lora_target_modules:
        lora = LoraSpec(enabled=True, rank=args.lora_rank, alpha=args.lora_alpha, dropout=args.lora_dropout,
                        target_modules=args.lora_target_modules)
    if args.no_lora:
        lora = LoraSpec(enabled=False)
    settings: dict = {}
    if args.backend == "local":
        settings["nice"] = args.nice
        if args.max_parallel:
            settings["max_parallel"] = args.max_parallel
    elif args.backend == "skypilot":
        settings = {key: getattr(args, key) for key in _SKY_FLAGS if getattr(args, key) not in (None, False)}
    else:
        for key in ("image", "cloud_type", "network_volume_id", "container_disk_gb", "data_center_id",
                    "bid_per_gpu", "pod_end", "linger_s", "interruption_retries"):
            if getattr(args, key) is not None:
                settings[key] = getattr(args, key)
        if args.interruptible:
            settings["interruptible"] = True
        if args.gpu_type:
            settings["gpu_types"] = args.gpu_type
        if args.allowed_cuda_version:
            settings["allowed_cuda_versions"] = args.allowed_cuda_version
    spec = JobSpec(stage=args.stage or ("sft" if "sft" in os.path.basename(args.config) else "pretrain"),
                   config=args.config, data=args.data_path, run_name=args.run_name, resume_from=args.resume_from,
                   init_from=args.init_from, lora=lora, loss_weights=_loss_weights(args.loss_weight),
                   epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                   gpu_count=args.gpu_count, backend=args.backend, backend_settings=settings)
    return spec


_SKY_FLAGS = ("accelerator", "num_nodes", "cloud", "region", "use_spot", "bucket", "image")


def _export_skypilot(args: argparse.Namespace) -> int:
    """Write the SkyPilot task of this command line; launches nothing."""
    import datetime as dt

    from ..jobs.skypilot import export_task

    if args.backend == "runpod":
        raise JobError("--export-skypilot: writes a SkyPilot task; drop --backend runpod")
    args.backend = "skypilot"
    spec = spec_from_args(args)
    run_id = args.run_name or f"{spec.stage}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    path = export_task(spec, run_id, args.export_skypilot)
    print(json.dumps({"task": str(path), "run_id": run_id}) if args.json else
          f"wrote {path}; launch it with: sky jobs launch {path}")
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    if args.export_skypilot:
        return _export_skypilot(args)
    spec = spec_from_args(args)
    if args.estimate:
        return _estimate(spec, args.json)
    run = _client(args).launch(spec)
    if args.backend == "runpod" and args.wait_ready:
        run.backend.wait_ready(run)
    _print_run(run, args.json, "launched")
    return 0


def _estimate(spec, as_json: bool) -> int:
    """The price per hour of each GPU type the job would try, launching nothing."""
    from ..jobs.runpod_backend import RunPodBackend

    if spec.backend != "runpod":
        raise JobError("--estimate: prices come from RunPod; add --backend runpod")
    spec.validate()
    backend = RunPodBackend(spec.backend_settings)
    prices = {gpu: backend.price_per_hour(gpu) for gpu in backend.s["gpu_types"]}
    if as_json:
        print(json.dumps(prices))
    for gpu, price in ([] if as_json else prices.items()):
        print(f"{gpu}: {'no price given' if price is None else f'${price:.2f}/h'} ({backend.s['cloud_type']} cloud)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    rows = _client(args).list()
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    if not rows:
        print(f"no runs in {os.path.join(_workspace(args), 'runs')}")
        return 0
    print(f"{'run':28} {'stage':8} {'backend':8} {'state':11} {'epoch':>5} {'step':>7}  {'pod':24} error")
    for r in rows:
        err = r["error"] if r["state"] == RunState.DAMAGED else (r["error"] or "")[:60]  # the reason is the point
        print(f"{r['run_id']:28} {r['stage'] or '':8} {r['backend'] or '':8} {r['state'] or '':11} "
              f"{'' if r['epoch'] is None else r['epoch']:>5} {'' if r['global_step'] is None else r['global_step']:>7}  "
              f"{_pod_cell(r['pod']):24} {err}")
    billing = [r["pod"] for r in rows if r["pod"] and r["pod"].get("status") == "RUNNING"]
    if billing:
        total = sum(float(p.get("cost_per_hr") or 0) for p in billing)
        print(f"{len(billing)} pod(s) still billing, ${total:.2f}/h in all: `stickgen jobs terminate RUN` removes one")
    return 0


def _pod_cell(pod: dict | None) -> str:
    if not pod:
        return ""
    price = f" ${float(pod['cost_per_hr']):.2f}/h" if pod.get("cost_per_hr") is not None else ""
    status = "unreachable" if pod.get("unreachable") else (pod.get("status") or "?")
    return f"{pod.get('pod_id', '?')} {status}{price}"


def cmd_stop(args: argparse.Namespace) -> int:
    run = _client(args).stop(args.run, wait=True, timeout=args.timeout, terminate=args.terminate)
    _print_run(run, args.json, "stop")
    return 0


def cmd_terminate(args: argparse.Namespace) -> int:
    run = _client(args).terminate(args.run)
    _print_run(run, args.json, "terminated pod of")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    client = _client(args)
    root = client.run(args.run).root
    run_id = client.delete(args.run)  # refuses an active run; waits for its processes; terminates a pod still up
    print(json.dumps({"deleted": run_id}) if args.json else f"deleted {run_id} [{root}]")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    run = _client(args).resume(args.run)
    _print_run(run, args.json, "resumed")
    return 0


def cmd_sft_from(args: argparse.Namespace) -> int:
    run = _client(args).sft_from(args.run, data=args.data_path, run_name=args.run_name)
    _print_run(run, args.json, "launched SFT")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    client = _client(args)
    run = client.run(args.run)
    for line in client.follow_logs(run, args.lines) if args.follow else client.logs(run, args.lines):
        print(line, flush=True)
    if args.json:
        print(json.dumps({"run_id": run.run_id, "status": run.status()}, default=str))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    """Bring a run's checkpoints home (pod's agent, else the network volume); a bar on a terminal."""
    import sys

    bars: dict = {}

    def sink(done: int, total: int, rate: float, eta: float | None) -> None:
        if not sys.stderr.isatty():
            return
        from tqdm import tqdm

        bar = bars.get(total) or bars.setdefault(total, tqdm(total=total, unit="B", unit_scale=True, desc="fetch"))
        bar.update(done - bar.n)

    rows = _client(args).fetch(args.run, args.which, args.to, sink=sink)
    for bar in bars.values():
        bar.close()
    if args.json:
        print(json.dumps(rows, default=str))
    for r in [] if args.json else rows:
        print(f"{r['name']}: {r['path']} ({r['bytes'] / 1e6:.1f} MB from the {r['source']}, sha256 {r['sha256'][:16]}…)")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    from ..jobs.agent import serve

    server = serve(args.run_dir, args.port, data_dir=args.data_dir, host=args.host)
    print(f"agent for {args.run_dir} on {args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def cmd_entrypoint(_args: argparse.Namespace) -> int:
    from ..jobs.entrypoint import main

    return main()


def register(sub) -> None:
    j = sub.add_parser("jobs", help="launch, list, stop, resume training runs (local or RunPod)")
    jsub = j.add_subparsers(dest="jobs_command", required=True, metavar="JOBS_COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workspace", help="folder holding runs/ (default $STICKGEN_WORKSPACE or .)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    # the flags that override a config key say what the key says (the JobSpec copies the same help and range;
    # read from the config, which is light, not from the jobs package)
    from dataclasses import fields

    from ..config import LoraConfig, LossWeights, TrainingConfig
    from ..config_fields import choices_of, cli_help

    la = jsub.add_parser("launch", help="start a training run (queued when a local run is already training)")
    common(la)
    la.add_argument("--config", required=True, help="config YAML or name under configs/ (small, sft_small, ...)")
    la.add_argument("--data_path", required=True, help="curated split; embedded first when it has no embeddings")
    la.add_argument("--stage", choices=choices_of(TrainingConfig, "stage"),
                    help=f"{cli_help(TrainingConfig, 'stage')} Default: sft when the config's name says so.")
    la.add_argument("--run-name")
    g = la.add_mutually_exclusive_group()
    g.add_argument("--resume_from", help=cli_help(TrainingConfig, "resume_from"))
    g.add_argument("--init_from", help=cli_help(TrainingConfig, "init_from"))
    for name, typ in (("epochs", int), ("batch_size", int), ("learning_rate", float)):
        la.add_argument(f"--{name}", type=typ, help=cli_help(TrainingConfig, name))
    la.add_argument("--loss-weight", action="append", metavar="NAME=W",
                    help=f"e.g. pose=1.0 (repeatable); NAME one of {', '.join(f.name for f in fields(LossWeights))}")
    lg = la.add_mutually_exclusive_group()
    lg.add_argument("--lora", action="store_true", help=cli_help(LoraConfig, "enabled"))
    lg.add_argument("--no-lora", action="store_true", help="full fine-tuning even when the config enables LoRA")
    la.add_argument("--lora-rank", type=int, help=cli_help(LoraConfig, "rank"))
    la.add_argument("--lora-alpha", type=int, help=cli_help(LoraConfig, "alpha"))
    la.add_argument("--lora-dropout", type=float, help=cli_help(LoraConfig, "dropout"))
    la.add_argument("--lora-target-modules", nargs="+", help=cli_help(LoraConfig, "target_modules"))
    la.add_argument("--backend", choices=("local", "runpod", "skypilot"), default="local")
    la.add_argument("--gpu-count", dest="gpu_count", type=int, default=1,
                    help="GPUs per machine (default 1); above 1 the trainer runs under torchrun, one process per GPU, "
                         "--batch_size each")
    la.add_argument("--nice", type=int, default=10, help="local: niceness of training (default 10)")
    la.add_argument("--max-parallel", type=int, help="local: runs that may train at once (default 1)")
    la.add_argument("--gpu-type", action="append", help="runpod: GPU type id, in order of preference (repeatable)")
    la.add_argument("--cloud-type", dest="cloud_type", choices=("SECURE", "COMMUNITY", "ALL"))
    la.add_argument("--image", help="runpod/skypilot: the training image (resources/docker/Dockerfile)")
    la.add_argument("--allowed-cuda-version", action="append", metavar="X.Y",
                    help="runpod: host CUDA versions the pod may land on (repeatable; default 12.4 to 12.8, the image's)")
    sk = la.add_argument_group("skypilot (see README: SkyPilot)")
    sk.add_argument("--accelerator", help="skypilot: accelerator name (default A100); asks for NAME:--gpu-count per node")
    sk.add_argument("--num-nodes", dest="num_nodes", type=int, help="skypilot: machines (default 1)")
    sk.add_argument("--cloud", help="skypilot: aws, gcp, azure, runpod, lambda, ... (default: the cheapest enabled)")
    sk.add_argument("--region")
    sk.add_argument("--use-spot", dest="use_spot", action="store_true", help="skypilot: spot instances (recovered by SkyPilot)")
    sk.add_argument("--bucket", help="skypilot: s3://, gs:// or r2:// URI for the run folder (needed to launch)")
    sk.add_argument("--export-skypilot", metavar="TASK.yaml", help="write the SkyPilot task YAML and launch nothing")
    la.add_argument("--network-volume-id", dest="network_volume_id")
    la.add_argument("--data-center-id", dest="data_center_id")
    la.add_argument("--container-disk-gb", dest="container_disk_gb", type=int)
    la.add_argument("--interruptible", action="store_true",
                    help="runpod: a spot pod at --bid-per-gpu; an interruption resumes on a new pod from the volume")
    la.add_argument("--bid-per-gpu", dest="bid_per_gpu", type=float, help="runpod: spot bid in $/h per GPU")
    la.add_argument("--interruption-retries", dest="interruption_retries", type=int,
                    help="runpod: new pods after interruptions before the run fails (default 3)")
    la.add_argument("--pod-end", dest="pod_end", choices=("terminate", "stop"),
                    help="runpod: how a pod ends after its run (default terminate; stop keeps its disk, billed)")
    la.add_argument("--linger", dest="linger_s", type=float, metavar="SECONDS",
                    help="runpod: how long a finished pod serves a last fetch before it ends (default 300)")
    la.add_argument("--wait-ready", action="store_true", help="runpod: wait until the pod is up")
    la.add_argument("--estimate", action="store_true", help="runpod: print the price per hour, launch nothing")
    la.set_defaults(func=cmd_launch)

    li = jsub.add_parser("list", help="every run with its state")
    common(li)
    li.set_defaults(func=cmd_list)

    for name, func, helptext in (("stop", cmd_stop, "stop a run (it saves its latest checkpoint)"),
                                 ("terminate", cmd_terminate,
                                  "runpod: remove the run's pod now (the network volume keeps the run)"),
                                 ("delete", cmd_delete, "remove a finished run's folder (and its pod, if one is up)"),
                                 ("resume", cmd_resume, "a new attempt from the latest checkpoint"),
                                 ("sft-from", cmd_sft_from, "SFT from a run's best checkpoint"),
                                 ("logs", cmd_logs, "the run's log")):
        p = jsub.add_parser(name, help=helptext)
        common(p)
        p.add_argument("run", help="run id (folder under runs/) or path")
        p.set_defaults(func=func)
        if name == "stop":
            p.add_argument("--timeout", type=float, default=120.0)
            p.add_argument("--terminate", action="store_true",
                           help="runpod: also remove the pod (the network volume keeps the run)")
        if name == "sft-from":
            p.add_argument("--data_path", help="SFT split (default: beside the parent's data, else the config's)")
            p.add_argument("--run-name")
        if name == "logs":
            p.add_argument("-n", "--lines", type=int, default=40)
            p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends")

    fe = jsub.add_parser("fetch", help="bring a run's checkpoints home (runpod: the pod's agent, else the volume)")
    common(fe)
    fe.add_argument("run", help="run id (folder under runs/) or path")
    fe.add_argument("which", nargs="?", choices=("best", "latest", "all"), default="best")
    fe.add_argument("--to", help="folder to put them in (default: the run folder's checkpoints/)")
    fe.set_defaults(func=cmd_fetch)

    a = sub.add_parser("agent", help="serve a run folder to the studio (token from $STICKGEN_AGENT_TOKEN)")
    a.add_argument("--run-dir", required=True)
    a.add_argument("--port", type=int, default=8765)
    a.add_argument("--host", default="0.0.0.0")
    a.add_argument("--data-dir", help="where uploads go (default <workspace>/data)")
    a.set_defaults(func=cmd_agent)

    e = sub.add_parser("runpod-entrypoint", help="a training pod's entrypoint: agent + embed + train (reads env)")
    e.set_defaults(func=cmd_entrypoint)

