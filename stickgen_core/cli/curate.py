"""Curation commands: the metrics table and the pretrain/SFT splits."""

from __future__ import annotations

import argparse

from ..errors import StickGenError
from .common import bar as _bar


def cmd_annotate(args: argparse.Namespace) -> int:
    from ..annotate import AnnotateOptions, annotate, require_valid
    from ..io import atomic_path

    bar, progress = _bar(len(args.inputs), "annotating", unit="file")
    with bar:
        table = annotate(args.inputs, options=AnnotateOptions(ground=args.ground), use_cache=not args.no_cache,
                         progress=lambda d, t: progress(int(d), t))
    if args.output:
        with atomic_path(args.output) as tmp:
            table.to_parquet(tmp, index=False)
        print(f"wrote {len(table)} rows to {args.output}")
    valid = require_valid(table, args.inputs)
    valid = valid[valid["valid"]]
    print(f"{len(table)} clips ({len(table) - len(valid)} invalid) from {table['file'].nunique()} file(s)")
    cols = ["artifact_score", "realism_score", "camera_stability", "n_frames"]
    print(valid[cols].describe(percentiles=[0.1, 0.5, 0.9]).round(3).to_string())
    return 0

# fields of CurationConfig that `stickgen curate` takes as --flags (--min-quality-pretrain ...), type and help
# from the field itself
_CURATE_FLAGS = ["min_quality_pretrain", "min_quality_sft", "min_camera_stability_sft", "min_realism_pretrain",
                 "min_realism_sft", "max_artifact_score", "min_frames", "max_frames", "balance_max_fraction",
                 "max_source_fraction", "synthetic_quality_penalty", "target_height", "smooth_sigma", "seed"]

_CURATE_SWITCHES = ["prefer_mocap", "balance_by_source", "normalize_height", "smooth"]

def cmd_curate(args: argparse.Namespace) -> int:
    import dataclasses

    from ..annotate import AnnotateOptions, annotate, require_valid
    from ..curation import CurationConfig, apply_thresholds, export_splits
    from ..curation.export import curation_inputs

    cfg = CurationConfig.from_yaml(args.config) if args.config else CurationConfig()
    changes = {field: getattr(args, field) for field in _CURATE_FLAGS if getattr(args, field) is not None}
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
    inputs = curation_inputs(args.inputs, args.output_dir)  # never the folder's own earlier outputs
    bar, progress = _bar(len(inputs), "annotating", unit="file")
    loaded: dict = {}  # the samples annotated here: export writes them without reading the files again
    with bar:
        table = annotate(inputs, options=AnnotateOptions(ground=args.ground),
                         progress=lambda d, t: progress(int(d), t), loaded=loaded)
    require_valid(table, args.inputs)
    result = apply_thresholds(table, cfg)
    bar, progress = _bar(table["file"].nunique(), "exporting", unit="file")
    with bar:
        paths = export_splits(table, result, args.output_dir, cfg, progress=progress, loaded=loaded)
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


def register(sub) -> None:
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
    from ..config_fields import cli_help, hints
    from ..curation.config import CurationConfig

    for field in _CURATE_FLAGS:
        c.add_argument(f"--{field.replace('_', '-')}", dest=field, type=hints(CurationConfig)[field], default=None,
                       help=cli_help(CurationConfig, field))
    for name in _CURATE_SWITCHES:
        c.add_argument(f"--{name.replace('_', '-')}", dest=name, action=argparse.BooleanOptionalAction, default=None,
                       help=cli_help(CurationConfig, name))
    c.add_argument("--source-weight", action="append", metavar="SOURCE=WEIGHT",
                   help=f"{cli_help(CurationConfig, 'source_weights')} For one SOURCE; repeatable.")
    c.set_defaults(func=cmd_curate)
