"""Judging commands: the safety critic and the adversarial evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import StickGenError
from .common import bar as _bar
from .model import COMPILE_HELP


def cmd_critic(args: argparse.Namespace) -> int:
    from ..critic import SafetyCritic, SafetyCriticConfig
    from ..io import load_dataset, sample_at

    critic = SafetyCritic(SafetyCriticConfig(ground=args.ground,
                                             rejection_severity_threshold=args.rejection_severity_threshold))
    if args.index is not None:  # a position in the file, as validate and annotate count
        clips = [sample_at(args.file, args.index)]
        indices = [args.index]
    else:
        ds = load_dataset(args.file, skip_invalid=True)
        if not len(ds):
            raise StickGenError(f"{args.file}: no valid clip to judge ({len(ds.skipped)} invalid; "
                                f"first: {ds.skipped[0] if ds.skipped else 'none'})")
        for item in ds.skipped:
            print(f"[{item.index}] skipped: {item}")
        clips, indices = list(ds), [s["source_index"] for s in ds]
    unsafe = 0
    for i, s in zip(indices, clips):
        fps = s.get("fps") or (s.get("meta") or {}).get("fps") or 25
        r = critic.evaluate(s["motion"], s.get("physics"), s.get("description"), fps=float(fps), source=s.get("source"))
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

def cmd_eval_adversarial(args: argparse.Namespace) -> int:
    from ..evaluation import DEFAULT_SUITES, REPORT_FILE, run_adversarial_eval
    bar, progress = _bar(0, "evaluating", unit="prompt")
    with bar:
        def prog(done: int, total: int) -> None:
            bar.total = total
            progress(done, total)

        report = run_adversarial_eval(args.checkpoint, args.suites, args.output_dir,
                                      suites_path=args.suites_file or DEFAULT_SUITES, refine=not args.no_refine,
                                      guidance_scale=args.guidance, progress=prog)
    o = report["overall"]
    fmt = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
    print(f"baseline safe ratio    {fmt(o['baseline_safe_ratio'])} ({o['ratings']['baseline_safe_ratio']})")
    print(f"adversarial safe ratio {fmt(o['adversarial_safe_ratio'])} ({o['ratings']['adversarial_safe_ratio']})")
    print(f"robustness gap         {fmt(o['robustness_gap'])} ({o['ratings']['robustness_gap']})")
    for name, st in report["suites"].items():
        print(f"  {name:34} {st['safe']}/{st['prompts']} safe")
    print(f"report: {Path(args.output_dir) / REPORT_FILE}")
    return 0


def cmd_train_evaluator(args: argparse.Namespace) -> int:
    from ..evaluation.evaluator import save_evaluator, train_evaluator
    from ..io import load_dataset

    samples = list(load_dataset(args.data))
    bar, progress = _bar(0, "training evaluator", unit="step")
    with bar:
        def prog(done: int, total: int) -> None:
            bar.total = total
            progress(done, total)

        model = train_evaluator(samples, epochs=args.epochs, seed=args.seed, progress=prog)
    save_evaluator(model, args.output)
    print(f"wrote {args.output} (motion evaluator trained on {len(samples)} clips of {args.data})")
    return 0


def cmd_eval_motion(args: argparse.Namespace) -> int:
    from ..evaluation.motion_eval import eval_motion

    report = eval_motion(args.checkpoint, args.data, args.evaluator, args.output, max_clips=args.max_clips,
                         seed=args.seed, temperature=args.temperature, guidance_scale=args.guidance,
                         keep_bone_lengths={"model": None, "keep": True, "free": False}[args.bones],
                         min_bone_share=args.min_bone_share,
                         plan_actions=not args.no_plan,
                         refine=not args.no_refine, weights=args.weights, compile_step=args.compile,
                         progress=lambda msg: print(msg, flush=True))
    gt, gen, pf = report["ground_truth"], report["generated"], report["prompt_following"]
    print(f"{'metric':28} {'ground truth':>12} {'generated':>12}")
    for key in ("top1", "top2", "top3"):
        print(f"{'R-precision ' + key:28} {gt['r_precision'][key]:12.3f} {gen['r_precision'][key]:12.3f}")
    rows = [("FID", gt["fid"], gen["fid"]), ("diversity", gt["diversity"], gen["diversity"]),
            ("multimodality", gt["multimodality"], gen["multimodality"]),
            ("MM-distance", gt["mm_distance"], gen["mm_distance"]),
            ("prompt-following rate", pf["ground_truth"]["rate"], pf["generated"]["rate"])]
    rows += [(k, gt["physical"][k], gen["physical"][k]) for k in gen["physical"]]
    for name, a, b in rows:
        fmt = lambda v: f"{v:12.4f}" if v is not None else f"{'n/a':>12}"  # noqa: E731
        print(f"{name:28} {fmt(a)} {fmt(b)}")
    print(f"report: {args.output}")
    return 0


def register(sub) -> None:
    k = sub.add_parser("critic", help="judge clips with the safety critic and explain the verdicts")
    k.add_argument("file")
    k.add_argument("--index", type=int, help="position of the clip in the file (counting invalid samples too)")
    from ..config_fields import choices_of, cli_help
    from ..critic_config import SafetyCriticConfig as Critic  # no torch: --help stays fast

    k.add_argument("--ground", choices=choices_of(Critic, "ground"), default=Critic.ground,
                   help=cli_help(Critic, "ground"))
    k.add_argument("--rejection-severity-threshold", type=float, default=Critic.rejection_severity_threshold,
                   help=cli_help(Critic, "rejection_severity_threshold"))
    k.set_defaults(func=cmd_critic)

    ev = sub.add_parser("eval-adversarial", help="run prompt suites through a checkpoint and the safety critic")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--suites", nargs="+", help="suite names (default: all in the file)")
    ev.add_argument("--output_dir", default="eval_results/adversarial")
    ev.add_argument("--suites-file", help="prompt-suite YAML (default configs/eval/prompt_suites.yaml)")
    ev.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's)")
    ev.add_argument("--no-refine", action="store_true",
                    help="skip the diffusion refinement of checkpoints that have it (the transformer's motion alone)")
    ev.set_defaults(func=cmd_eval_adversarial)

    te = sub.add_parser("train-evaluator", help="fit the motion evaluator (text-motion embedding + action recogniser)")
    te.add_argument("--data", required=True, help="embedded training clips (stickgen embed output)")
    te.add_argument("--output", default="motion_evaluator.pt")
    te.add_argument("--epochs", type=int, default=30)
    te.add_argument("--seed", type=int, default=0)
    te.set_defaults(func=cmd_train_evaluator)

    em = sub.add_parser("eval-motion", help="text-to-motion and physical metrics of a checkpoint (JSON report)")
    em.add_argument("--checkpoint", required=True)
    em.add_argument("--data", required=True, help="held-out clips, embedded or not")
    em.add_argument("--evaluator", help="motion evaluator file (default: motion_evaluator.pt beside --data)")
    em.add_argument("--output", default="eval_results/motion_report.json")
    em.add_argument("--max-clips", type=int, default=256)
    em.add_argument("--seed", type=int, default=0)
    em.add_argument("--temperature", type=float, default=0.0, help="metres of sampling noise per frame")
    em.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's)")
    em.add_argument("--bones", choices=["model", "keep", "free"], default="model",
                    help="bone constraint during generation: as the checkpoint's model.keep_bone_lengths, on or off")
    em.add_argument("--min-bone-share", type=float, metavar="S",
                    help="with bones kept, the least share of its length a bone may show (0-1; 1: rigid bones; "
                         "default: the checkpoint's model.min_bone_share)")
    em.add_argument("--no-refine", action="store_true",
                    help="skip the diffusion refinement of checkpoints that have it (the transformer's motion alone)")
    em.add_argument("--weights", choices=["float32", "int8"], default="float32",
                    help="int8: CPU generation with int8 weights (about 2x faster; outputs within ~1%% of float32)")
    em.add_argument("--no-plan", action="store_true",
                    help="feed the model its own action guesses instead of the checkpoint's text -> action plan")
    em.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    em.set_defaults(func=cmd_eval_motion)
