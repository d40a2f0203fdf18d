"""``stickgen convert``: BVH, HumanML3D and reference files -> one canonical dataset file."""

from __future__ import annotations

import argparse


def cmd_convert(args: argparse.Namespace) -> int:
    from ..convert import convert_path
    from ..io import save_dataset

    samples = convert_path(args.src, args.format, describe=args.describe,
                           target_height=args.target_height or None)
    save_dataset(samples, args.out)
    m = samples[0]["meta"]
    extra = f" ({m.get('units')}, {m.get('source_fps', 25):.0f} fps -> 25 fps)" if args.format != "reference" else ""
    print(f"wrote {len(samples)} clip(s) from {args.src}{extra} to {args.out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert BVH, HumanML3D or reference Stick-Gen files to a dataset file")
    p.add_argument("src", help="a file or a folder of them")
    p.add_argument("--format", required=True, choices=("bvh", "humanml3d", "reference"))
    p.add_argument("--out", required=True, help="output .pt dataset file")
    p.add_argument("--describe", default=None, help="description of every clip (default: sidecar .txt, caption or file name)")
    p.add_argument("--target-height", type=float, default=1.75,
                   help="standing height in metres the figure is scaled to (0: keep the file's own)")
    p.set_defaults(func=cmd_convert)
