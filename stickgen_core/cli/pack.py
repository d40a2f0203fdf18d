"""Packed-dataset commands: ``stickgen pack`` and ``stickgen unpack``."""

from __future__ import annotations

import argparse


def cmd_pack(args: argparse.Namespace) -> int:
    from ..io import load_dataset
    from ..packed import write_packed

    ds = load_dataset(args.input)  # every sample checked; its clip id computed here, once, and stored
    keep = ("clip_id", "source_file", "source_index")
    samples = [{k: v for k, v in s.items() if k not in keep} for s in ds]
    out = write_packed(samples, [s["clip_id"] for s in ds], args.output, shard_size=args.shard_size,
                       overwrite=args.force)
    shards = "" if args.shard_size is None else f" in {-(-len(samples) // args.shard_size)} shard(s)"
    print(f"packed {len(samples)} clips from {len(ds.files)} file(s){shards} to {out}")
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    from ..io import load_dataset, save_dataset

    ds = load_dataset(args.input)
    save_dataset(ds.samples, args.output)
    print(f"wrote {len(ds)} clips to {args.output}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pack", help="write a dataset (.pt file or folder) as a packed, memory-mapped dataset")
    p.add_argument("input", help="a dataset file or folder (.pt, .pth, or packed)")
    p.add_argument("output", help="OUT.arrow, or a folder with --shard-size")
    p.add_argument("--shard-size", type=int, help="clips per shard: OUT is then a folder of shards and index.json")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists (replaced whole, never in place)")
    p.set_defaults(func=cmd_pack)

    u = sub.add_parser("unpack", help="write a packed dataset back as a .pt list of samples")
    u.add_argument("input", help="a packed file or sharded folder")
    u.add_argument("output", help="OUT.pt")
    u.set_defaults(func=cmd_unpack)
