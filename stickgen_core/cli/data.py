"""Data commands: synthetic clips, rendering, validation, demo workspace."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import StickGenError
from .common import bar as _bar


def cmd_generate_data(args: argparse.Namespace) -> int:
    from ..io import save_dataset
    from ..synth import SynthConfig, generate_dataset

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
    from ..io import sample_at
    from ..limits import RENDER_FRAMES
    from ..render import contact_sheet, save_gif, save_png_frames

    if args.every < 1:
        raise StickGenError(f"--every {args.every}: expected a whole number of at least 1")
    s = sample_at(args.file, args.index)  # position in the file, as validate and annotate count
    cap = args.max_frames or RENDER_FRAMES.value()
    drawn = -(-len(s["motion"]) // args.every)
    if (args.gif or args.png_dir or not args.sheet) and drawn > cap:  # a contact sheet draws 8 frames only
        raise StickGenError(f"{args.file}: sample {args.index} has {len(s['motion'])} frames; drawing {drawn} is more "
                            f"than the limit of {cap} (each is an image in memory): pass --every "
                            f"{-(-len(s['motion']) // cap)} or raise --max-frames / {RENDER_FRAMES.env}")
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
    from ..io import load_dataset

    ds = load_dataset(args.path, skip_invalid=True)
    print(f"{len(ds)} valid clip(s) in {len(ds.files)} file(s); {len(ds.skipped)} invalid")
    for item in ds.skipped[: args.max_report]:
        print(f"  {item}")
    if len(ds.skipped) > args.max_report:
        print(f"  ... and {len(ds.skipped) - args.max_report} more")
    broken = 0 if args.anatomy == "off" else _report_anatomy(ds, args.max_report)
    return 1 if ds.skipped or (broken and args.anatomy == "error") else 0


def _report_anatomy(ds, max_report: int) -> int:
    """Clips whose figure is not a body (the critic's anatomy checks, its default limits): how many."""
    from ..anatomy import find_violations

    lines = []
    for s in ds:
        found, _ = find_violations(s["motion"].numpy(), prompt=s.get("description"))
        if found:
            lines.append(f"  [{s.get('source_index', '?')}] " + "; ".join(f.description for f in found[:3]))
    if lines:
        print(f"{len(lines)} valid clip(s) whose figure is not a body (detached limbs, bones, joints, height; "
              f"the critic's limits):")
        for line in lines[:max_report]:
            print(line)
        if len(lines) > max_report:
            print(f"  ... and {len(lines) - max_report} more")
    return len(lines)

def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import build_demo_workspace

    bar, progress = _bar(args.num_samples, "demo dataset")
    with bar:
        summary = build_demo_workspace(args.workspace, num_samples=args.num_samples, seed=args.seed, progress=progress)
    for line in summary:
        print(line)
    return 0


def register(sub) -> None:
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
    r.add_argument("--max-frames", type=int, help="most frames to draw (default 3000, or STICKGEN_MAX_RENDER_FRAMES)")
    r.set_defaults(func=cmd_render)

    v = sub.add_parser("validate", help="check every sample of a dataset file or folder")
    v.add_argument("path")
    v.add_argument("--max-report", type=int, default=20)
    v.add_argument("--anatomy", choices=["warn", "error", "off"], default="warn",
                   help="figures that are not a body (detached limbs, stretched bones, joints bent the wrong way): "
                        "list them (warn), also exit 1 (error), or skip the check (off)")
    v.set_defaults(func=cmd_validate)

    d = sub.add_parser("demo", help="build a demo workspace: synthetic dataset and preview GIFs")
    d.add_argument("--workspace", default="stickgen-workspace")
    d.add_argument("--num-samples", type=int, default=2000)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_demo)
