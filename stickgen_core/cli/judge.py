"""Judging commands: the safety critic and the adversarial evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import StickGenError
from .common import bar as _bar


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


def register(sub) -> None:
    k = sub.add_parser("critic", help="judge clips with the safety critic and explain the verdicts")
    k.add_argument("file")
    k.add_argument("--index", type=int, help="position of the clip in the file (counting invalid samples too)")
    k.add_argument("--ground", choices=["auto", "zero", "estimate"], default="auto")
    k.add_argument("--rejection-severity-threshold", type=float, default=0.7)
    k.set_defaults(func=cmd_critic)

    ev = sub.add_parser("eval-adversarial", help="run prompt suites through a checkpoint and the safety critic")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--suites", nargs="+", help="suite names (default: all in the file)")
    ev.add_argument("--output_dir", default="eval_results/adversarial")
    ev.add_argument("--suites-file", help="prompt-suite YAML (default configs/eval/prompt_suites.yaml)")
    ev.set_defaults(func=cmd_eval_adversarial)
