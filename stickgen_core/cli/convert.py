"""``stickgen convert``: BVH, HumanML3D, KIT-ML, AIST++, NTU RGB+D, 100STYLE and reference files ->
one canonical dataset file."""

from __future__ import annotations

import argparse


def cmd_convert(args: argparse.Namespace) -> int:
    """One file: its error is the command's. A folder: every file that converts; the others are
    listed (``file: reason``) on stderr and in ``<out stem>.errors.txt``; exit 2 only when none did."""
    import sys
    from collections import Counter
    from pathlib import Path

    from ..convert import BatchResult, convert_file, convert_many, source_files
    from ..errors import DatasetError
    from ..io import atomic_write_text, save_dataset
    from .common import bar

    files = source_files(args.src, args.format)
    options = dict(describe=args.describe, target_height=args.target_height or None, name_pattern=args.name_pattern,
                   units=args.units, scale=args.scale)
    if len(files) == 1 and Path(args.src).is_file():
        result = BatchResult(convert_file(files[0], args.format, **options), list(files))
    else:
        b, progress = bar(len(files), "converting", unit="file")
        with b:
            result = convert_many(files, args.format, jobs=args.jobs, progress=progress, **options)
    errors = Path(args.out).with_suffix(".errors.txt")
    if result.failures:
        lines = result.summary_lines()
        print(f"{len(lines)} of {len(files)} file(s) did not convert:", *(f"  {line}" for line in lines),
              sep="\n", file=sys.stderr)
        if not result.samples:
            raise DatasetError(f"{args.src}: none of its {len(files)} file(s) converted (reasons above)", args.src)
        save_dataset(result.samples, args.out)
        atomic_write_text(errors, "\n".join(lines) + "\n")
    else:
        save_dataset(result.samples, args.out)
        errors.unlink(missing_ok=True)  # a list from an earlier run would describe files that now convert
    units = Counter(str(s["meta"].get("units")) for s in result.samples if isinstance(s.get("meta"), dict)
                    and "units" in s["meta"])
    fps = sorted({round(s["meta"]["source_fps"]) for s in result.samples if "source_fps" in s.get("meta", {})})
    extra = (f" (units {', '.join(f'{u} x{n}' if len(units) > 1 else u for u, n in units.items())}; "
             f"{'/'.join(map(str, fps))} fps -> 25 fps)") if units else ""
    print(f"wrote {len(result.samples)} clip(s) from {len(result.converted)} of {len(files)} file(s){extra} to {args.out}")
    if result.failures:
        print(f"{len(result.failures)} file(s) failed; the list is in {errors}")
    return 0


#: ``convert.FORMATS``, spelled out so building the parser imports no converter
FORMAT_CHOICES = ("bvh", "humanml3d", "reference", "kitml", "aist", "ntu", "100style")


def _name_pattern(text: str) -> str:
    from ..convert.labels import compile_name_pattern
    from ..errors import ConfigError

    try:
        compile_name_pattern(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _target_height(text: str) -> float:
    from ..convert.joints3d import target_height_problem

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of metres, got {text!r}") from None
    problem = target_height_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert BVH, HumanML3D, KIT-ML, AIST++, NTU RGB+D, 100STYLE or reference Stick-Gen files to a dataset file")
    p.add_argument("src", help="a file or a folder of them")
    p.add_argument("--format", required=True, choices=FORMAT_CHOICES,
                   help="kitml: new_joints/*.npy + texts/; aist: keypoints3d/*.pkl; ntu: *.skeleton; "
                        "100style: <Style>/<Style>_<Content>.bvh")
    p.add_argument("--out", required=True, help="output .pt dataset file")
    p.add_argument("--describe", default=None,
                   help="description of every clip, or a template of its labels such as "
                        "'a person {action}s in a {style} way' (default: sidecar .txt/.json, caption, labels or file name)")
    p.add_argument("--name-pattern", default=None, type=_name_pattern,
                   help="labels from file names: '{_}_{action}_{style}_{take}' ({_} skips a part) "
                        "or a regex with named groups")
    p.add_argument("--target-height", type=_target_height, default=1.75,
                   help="standing height in metres the figure is scaled to, above 0 and at most 10 (0: keep the file's own)")
    p.add_argument("--units", default="auto", choices=("m", "cm", "mm", "in", "cmu", "auto"),
                   help="length unit of the files (cmu: CMU's own BVH unit, 1/0.45 inch); auto: found from "
                        "the figure's height (default)")
    p.add_argument("--scale", type=float, default=None, metavar="METRES_PER_UNIT",
                   help="metres per file unit, instead of --units")
    p.add_argument("--jobs", type=int, default=1, help="processes converting a folder's files (default 1)")
    p.set_defaults(func=cmd_convert)
