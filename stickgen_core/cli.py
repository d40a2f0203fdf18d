"""The ``stickgen`` command line.

Every command calls the same public functions a script would. A StickGenError is
printed as one clear line (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from tqdm import tqdm

from . import __version__
from .errors import StickGenError

log = logging.getLogger("stickgen")
Command = Callable[[argparse.Namespace], int]


def _bar(total: int, desc: str, unit: str = "clip"):
    """A tqdm bar and a ``progress(done, total)`` callback that drives it."""
    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=None)

    def progress(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return bar, progress


# --------------------------------------------------------------------------- commands
def cmd_generate_data(args: argparse.Namespace) -> int:
    from .io import save_dataset
    from .synth import SynthConfig, generate_dataset

    cfg = SynthConfig(defect_rate=args.defect_rate, multi_actor_rate=args.multi_actor_rate,
                      min_seconds=args.min_seconds, max_seconds=args.max_seconds)
    bar, progress = _bar(args.num_samples, "generating")
    with bar:
        samples = generate_dataset(args.num_samples, seed=args.seed, config=cfg, progress=progress)
    save_dataset(samples, args.output)
    n_def = sum(1 for s in samples if s["meta"]["injected_defects"])
    print(f"wrote {len(samples)} clips ({n_def} with injected defects) to {args.output}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .io import load_dataset
    from .render import contact_sheet, save_gif, save_png_frames

    ds = load_dataset(args.file, skip_invalid=True)
    if not 0 <= args.index < len(ds):
        raise StickGenError(f"{args.file}: --index {args.index} is out of range (the file holds {len(ds)} valid clip(s))")
    s = ds[args.index]
    if not (args.gif or args.png_dir or args.sheet):
        args.gif = str(Path(args.file).with_suffix("")) + f"_{args.index}.gif"
    if args.gif:
        save_gif(s["motion"], args.gif, title=s["description"], every=args.every)
        print(f"wrote {args.gif}")
    if args.png_dir:
        paths = save_png_frames(s["motion"], args.png_dir, every=args.every)
        print(f"wrote {len(paths)} PNG frames to {args.png_dir}")
    if args.sheet:
        contact_sheet(s["motion"], columns=8, title=s["description"]).save(args.sheet)
        print(f"wrote {args.sheet}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .io import load_dataset

    ds = load_dataset(args.path, skip_invalid=True)
    print(f"{len(ds)} valid clip(s) in {len(ds.files)} file(s); {len(ds.skipped)} invalid")
    for item in ds.skipped[: args.max_report]:
        print(f"  {item}")
    if len(ds.skipped) > args.max_report:
        print(f"  ... and {len(ds.skipped) - args.max_report} more")
    return 1 if ds.skipped else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import build_demo_workspace

    bar, progress = _bar(args.num_samples, "demo dataset")
    with bar:
        summary = build_demo_workspace(args.workspace, num_samples=args.num_samples, seed=args.seed, progress=progress)
    for line in summary:
        print(line)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from .annotate import AnnotateOptions, annotate
    from .io import atomic_path

    bar, progress = _bar(len(args.inputs), "annotating", unit="file")
    with bar:
        table = annotate(args.inputs, options=AnnotateOptions(ground=args.ground), use_cache=not args.no_cache,
                         progress=lambda d, t: progress(int(d), t))
    if args.output:
        with atomic_path(args.output) as tmp:
            table.to_parquet(tmp, index=False)
        print(f"wrote {len(table)} rows to {args.output}")
    valid = table[table["valid"]]
    print(f"{len(table)} clips ({len(table) - len(valid)} invalid) from {table['file'].nunique()} file(s)")
    cols = ["artifact_score", "realism_score", "camera_stability", "n_frames"]
    print(valid[cols].describe(percentiles=[0.1, 0.5, 0.9]).round(3).to_string())
    return 0


# flags of `stickgen curate`: (flag, CurationConfig field, type)
_CURATE_FLAGS = [
    ("--min-quality-pretrain", "min_quality_pretrain", float), ("--min-quality-sft", "min_quality_sft", float),
    ("--min-camera-stability-sft", "min_camera_stability_sft", float),
    ("--min-realism-pretrain", "min_realism_pretrain", float), ("--min-realism-sft", "min_realism_sft", float),
    ("--max-artifact-score", "max_artifact_score", float), ("--min-frames", "min_frames", int),
    ("--max-frames", "max_frames", int), ("--balance-max-fraction", "balance_max_fraction", float),
    ("--max-source-fraction", "max_source_fraction", float),
    ("--synthetic-quality-penalty", "synthetic_quality_penalty", float), ("--target-height", "target_height", float),
    ("--smooth-sigma", "smooth_sigma", float), ("--seed", "seed", int),
]
_CURATE_SWITCHES = ["prefer_mocap", "balance_by_source", "normalize_height", "smooth"]


def cmd_curate(args: argparse.Namespace) -> int:
    import dataclasses

    from .annotate import AnnotateOptions, annotate
    from .curation import CurationConfig, apply_thresholds, export_splits

    cfg = CurationConfig.from_yaml(args.config) if args.config else CurationConfig()
    changes = {field: getattr(args, field) for _, field, _ in _CURATE_FLAGS if getattr(args, field) is not None}
    changes.update({k: getattr(args, k) for k in _CURATE_SWITCHES if getattr(args, k) is not None})
    if args.source_weight:
        weights = dict(cfg.source_weights)
        for item in args.source_weight:
            name, _, value = item.partition("=")
            try:
                weights[name] = float(value)
            except ValueError:
                raise StickGenError(f"--source-weight {item!r}: expected SOURCE=WEIGHT with a number") from None
        changes["source_weights"] = weights
    cfg = dataclasses.replace(cfg, **changes)
    bar, progress = _bar(len(args.inputs), "annotating", unit="file")
    with bar:
        table = annotate(args.inputs, options=AnnotateOptions(ground=args.ground),
                         progress=lambda d, t: progress(int(d), t))
    result = apply_thresholds(table, cfg)
    bar, progress = _bar(table["file"].nunique(), "exporting", unit="file")
    with bar:
        paths = export_splits(table, result, args.output_dir, cfg, progress=progress)
    st = result.stats
    print(f"\n{st['total']} clips -> pretrain {st['pretrain']}, SFT {st['sft']}, dropped {st['dropped']}")
    print("dropped (first rule failed):")
    for reason, n in st["dropped_by_reason"].items():
        print(f"  {reason:22} {n}")
    print("pretrain clips left out of SFT:")
    for reason, n in st["not_in_sft_by_reason"].items():
        print(f"  {reason:22} {n}")
    for key in ("actions", "sources"):
        note = st["balance"].get(key, {}).get("note")
        if note:
            print(f"note ({key}): {note}")
    for name, path in paths.items():
        print(f"{name:10} {path}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from .config import load_config
    from .embedding import TextEncoder, embed_dataset

    emb = load_config(args.config).embedding if args.config else None
    model = args.model or (emb.model if emb else "all-MiniLM-L6-v2")
    batch = args.batch_size or (emb.batch_size if emb else 64)
    encoder = TextEncoder(model, batch_size=batch, **({"cache_dir": args.cache_dir} if args.cache_dir else {}))
    bar, progress = _bar(0, "embedding", unit="text")
    with bar:
        def prog(done: int, total: int) -> None:
            bar.total = total
            progress(done, total)

        info = embed_dataset(args.input, args.output, encoder, progress=prog)
    print(f"wrote {info['samples']} samples to {args.output} with {info['model']} ({info['dim']}-dim); "
          f"{info['encoded']} texts encoded, the rest from the cache")
    return 0


def cmd_export_merged(args: argparse.Namespace) -> int:
    from .train import export_merged

    out = export_merged(args.checkpoint, args.output)
    print(f"wrote {out} (LoRA adapters merged into the base weights)")
    return 0


def cmd_critic(args: argparse.Namespace) -> int:
    from .critic import SafetyCritic, SafetyCriticConfig
    from .io import load_dataset

    ds = load_dataset(args.file, skip_invalid=True)
    indices = [args.index] if args.index is not None else list(range(len(ds)))
    if any(not 0 <= i < len(ds) for i in indices):
        raise StickGenError(f"{args.file}: --index {args.index} is out of range (the file holds {len(ds)} valid clip(s))")
    critic = SafetyCritic(SafetyCriticConfig(ground=args.ground,
                                             rejection_severity_threshold=args.rejection_severity_threshold))
    unsafe = 0
    for i in indices:
        s = ds[i]
        r = critic.evaluate(s["motion"], s.get("physics"), s.get("description"), source=s.get("source"))
        unsafe += not r.is_safe
        print(f"[{i}] {'SAFE' if r.is_safe else 'UNSAFE'}  score {r.overall_score:.2f}  {s.get('description', '')}")
        for issue in r.issues:
            spans = ", ".join(f"{a}-{b - 1}" for a, b in issue.frame_ranges[:6]) + (" ..." if len(issue.frame_ranges) > 6 else "")
            print(f"    {issue.type:18} severity {issue.severity:.1f}  {issue.description}  (frames {spans})")
        for note in r.notes:
            print(f"    note: {note}")
    if len(indices) > 1:
        print(f"{len(indices) - unsafe} of {len(indices)} clips safe")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .inference import InferenceGenerator, save_generation

    gen = InferenceGenerator(args.checkpoint, device=args.device, enable_safety_check=True)
    out = gen.generate(args.prompt, seconds=args.seconds, seed=args.seed)
    save_generation(out, args.out)
    print(f"wrote {out['frames']} frames to {args.out}")
    for note in out["notes"]:
        print(f"note: {note}")
    if "safety" in out:
        print(f"safety: {'SAFE' if out['is_safe'] else 'UNSAFE'} (score {out['safety']['overall_score']:.2f})")
        for issue in out["safety"]["issues"]:
            print(f"    {issue['type']}: {issue['description']}")
    if args.gif:
        from .render import save_gif

        save_gif(out["motion"], args.gif, title=out["prompt"])
        print(f"wrote {args.gif}")
    return 0


def cmd_eval_adversarial(args: argparse.Namespace) -> int:
    from .evaluation import DEFAULT_SUITES, REPORT_FILE, run_adversarial_eval

    bar, progress = _bar(0, "evaluating", unit="prompt")
    with bar:
        def prog(done: int, total: int) -> None:
            bar.total = total
            progress(done, total)

        report = run_adversarial_eval(args.checkpoint, args.suites, args.output_dir,
                                      suites_path=args.suites_file or DEFAULT_SUITES, progress=prog)
    o = report["overall"]
    fmt = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
    print(f"baseline safe ratio    {fmt(o['baseline_safe_ratio'])} ({o['ratings']['baseline_safe_ratio']})")
    print(f"adversarial safe ratio {fmt(o['adversarial_safe_ratio'])} ({o['ratings']['adversarial_safe_ratio']})")
    print(f"robustness gap         {fmt(o['robustness_gap'])} ({o['ratings']['robustness_gap']})")
    for name, st in report["suites"].items():
        print(f"  {name:34} {st['safe']}/{st['prompts']} safe")
    print(f"report: {Path(args.output_dir) / REPORT_FILE}")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stickgen", description="StickGen: curate, embed, train and judge stick-figure motion.")
    p.add_argument("--version", action="version", version=f"stickgen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate-data", help="generate synthetic clips (with optional injected defects)")
    g.add_argument("--num-samples", type=int, default=1000)
    g.add_argument("--output", default="data/synth.pt")
    g.add_argument("--defect-rate", type=float, default=0.0, help="share of clips given an injected defect (0-1)")
    g.add_argument("--multi-actor-rate", type=float, default=0.03, help="share of two-actor clips (0-1)")
    g.add_argument("--min-seconds", type=float, default=2.0)
    g.add_argument("--max-seconds", type=float, default=20.0)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=cmd_generate_data)

    r = sub.add_parser("render", help="draw a clip as an animated GIF, PNG frames or a contact sheet")
    r.add_argument("file")
    r.add_argument("--index", type=int, default=0)
    r.add_argument("--gif")
    r.add_argument("--png-dir")
    r.add_argument("--sheet", help="one PNG with 8 frames side by side")
    r.add_argument("--every", type=int, default=1, help="keep one frame in N")
    r.set_defaults(func=cmd_render)

    v = sub.add_parser("validate", help="check every sample of a dataset file or folder")
    v.add_argument("path")
    v.add_argument("--max-report", type=int, default=20)
    v.set_defaults(func=cmd_validate)

    a = sub.add_parser("annotate", help="compute the per-clip metrics table (cached per file)")
    a.add_argument("inputs", nargs="+", help="dataset files or folders")
    a.add_argument("--output", help="also write the table as parquet")
    a.add_argument("--ground", choices=["auto", "zero", "estimate"], default="auto",
                   help="ground height: y=0 for our sources and estimated for others (auto), always 0, or always estimated")
    a.add_argument("--no-cache", action="store_true", help="recompute even when a cached table exists")
    a.set_defaults(func=cmd_annotate)

    c = sub.add_parser("curate", help="annotate, apply thresholds, balance and write pretrain/SFT splits")
    c.add_argument("--inputs", nargs="+", required=True, help="dataset files or folders")
    c.add_argument("--output-dir", default="data/curated")
    c.add_argument("--config", help="a config YAML whose data_curation section gives the thresholds")
    c.add_argument("--ground", choices=["auto", "zero", "estimate"], default="auto")
    for flag, field, typ in _CURATE_FLAGS:
        c.add_argument(flag, dest=field, type=typ, default=None, help=f"data_curation.{field}")
    for name in _CURATE_SWITCHES:
        c.add_argument(f"--{name.replace('_', '-')}", dest=name, action=argparse.BooleanOptionalAction, default=None,
                       help=f"data_curation.{name}")
    c.add_argument("--source-weight", action="append", metavar="SOURCE=WEIGHT",
                   help="how much SOURCE's realism counts in its quality (repeatable)")
    c.set_defaults(func=cmd_curate)

    e = sub.add_parser("embed", help="add text embeddings to a dataset (build_dataset_for_training)")
    e.add_argument("--input", required=True)
    e.add_argument("--output", required=True)
    e.add_argument("--config", help="a config whose embedding section names the model")
    e.add_argument("--model", help="sentence-transformers model name or folder (default all-MiniLM-L6-v2, offline)")
    e.add_argument("--batch-size", type=int)
    e.add_argument("--cache-dir", help="embedding cache folder (default ~/.cache/stickgen/embeddings)")
    e.set_defaults(func=cmd_embed)

    from .train.__main__ import add_arguments as train_arguments, run as train_run

    tr = sub.add_parser("train", help="train the transformer (pretraining or SFT), resumable")
    train_arguments(tr)
    tr.set_defaults(func=train_run)

    x = sub.add_parser("export-merged", help="merge a LoRA checkpoint's adapters into plain weights")
    x.add_argument("checkpoint")
    x.add_argument("output")
    x.set_defaults(func=cmd_export_merged)

    k = sub.add_parser("critic", help="judge clips with the safety critic and explain the verdicts")
    k.add_argument("file")
    k.add_argument("--index", type=int)
    k.add_argument("--ground", choices=["auto", "zero", "estimate"], default="auto")
    k.add_argument("--rejection-severity-threshold", type=float, default=0.7)
    k.set_defaults(func=cmd_critic)

    gp = sub.add_parser("generate", help="text to motion with a trained checkpoint (safety-checked)")
    gp.add_argument("prompt")
    gp.add_argument("--checkpoint", required=True)
    gp.add_argument("--seconds", type=float, default=5.0)
    gp.add_argument("--seed", type=int)
    gp.add_argument("--out", default="generated.pt")
    gp.add_argument("--gif")
    gp.add_argument("--device", default="auto")
    gp.set_defaults(func=cmd_generate)

    ev = sub.add_parser("eval-adversarial", help="run prompt suites through a checkpoint and the safety critic")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--suites", nargs="+", help="suite names (default: all in the file)")
    ev.add_argument("--output_dir", default="eval_results/adversarial")
    ev.add_argument("--suites-file", help="prompt-suite YAML (default configs/eval/prompt_suites.yaml)")
    ev.set_defaults(func=cmd_eval_adversarial)

    d = sub.add_parser("demo", help="build a demo workspace: synthetic dataset and preview GIFs")
    d.add_argument("--workspace", default="stickgen-workspace")
    d.add_argument("--num-samples", type=int, default=2000)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except StickGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
