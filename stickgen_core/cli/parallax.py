"""``stickgen parallax render``: multi-view 2.5D renders of a dataset's clips (stickgen_core/parallax)."""

from __future__ import annotations

import argparse


def _indices(text: str | None) -> list[int] | None:
    """``"0-9,12"`` -> [0..9, 12]; None for all."""
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        except ValueError:
            raise argparse.ArgumentTypeError(f"--samples: expected indices like 0-9,12, got {text!r}") from None
    return out


def cmd_render(args: argparse.Namespace) -> int:
    from ..io import load_dataset
    from ..parallax.writer import RenderSettings, render_dataset

    ds = load_dataset(args.data)
    settings = RenderSettings(views=args.views, frames_per_view=args.frames_per_view, size=args.size, seed=args.seed)
    summary = render_dataset(ds.samples, args.out, settings, source=str(args.data), indices=args.samples,
                             workers=args.workers)
    print(f"rendered {summary.rendered} sample(s) ({summary.images} images) into {summary.root}; "
          f"{summary.skipped} already there")
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    from ..parallax.sheet import save_contact_sheet

    print(f"wrote {save_contact_sheet(args.root, args.sample, args.out, args.actor, args.tile)}")
    return 0


def _step(text: str) -> int | None:
    if text == "all":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"--step: expected a whole number >= 0 or all, got {text!r}")
    return int(text)


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from ..io import atomic_write_text
    from ..parallax.evaluation import evaluate_pictures

    report = evaluate_pictures(args.checkpoint, args.data, args.root, step=args.step, max_pictures=args.max_pictures,
                               seed=args.seed, device=args.device)
    print(report.table())
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_dict(), indent=1))
        print(f"wrote {args.json}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("parallax", help="2.5D parallax renders for image-conditioned training")
    psub = p.add_subparsers(dest="parallax_command", required=True, metavar="ACTION")
    r = psub.add_parser("render", help="render each clip from seeded cameras into ROOT/sample_XXXXXX/actor_Y/ "
                                       "with a metadata.json per actor (the reference's layout)")
    r.add_argument("data", help="a dataset file or folder (.pt or packed)")
    r.add_argument("--out", required=True, help="the parallax root; samples already there are skipped (resume)")
    r.add_argument("--views", "--views-per-motion", dest="views", type=int, default=4, help="cameras per clip")
    r.add_argument("--frames-per-view", type=int, default=8, help="motion frames each camera renders (frame 0 first)")
    r.add_argument("--size", type=int, default=256, help="image side in pixels")
    r.add_argument("--seed", type=int, default=0, help="camera seed (the same seed gives the same images)")
    r.add_argument("--samples", type=_indices, help="only these sample indices, e.g. 0-99,120")
    r.add_argument("--workers", type=int, default=1, help="render processes")
    r.set_defaults(func=cmd_render)

    c = psub.add_parser("sheet", help="one clip's renders as a contact sheet (views down, steps across)")
    c.add_argument("root", help="a parallax root")
    c.add_argument("--sample", type=int, required=True, help="the sample index")
    c.add_argument("--actor", type=int, default=0)
    c.add_argument("--tile", type=int, default=192, help="pixels per tile")
    c.add_argument("--out", required=True, help="OUT.png")
    c.set_defaults(func=cmd_sheet)

    e = psub.add_parser("eval", help="how well generation follows a picture: the first generated frame against the "
                                     "pictured pose (metres), with and without the image")
    e.add_argument("checkpoint", help="a checkpoint trained with data.use_parallax_augmentation")
    e.add_argument("--data", required=True, help="the held-out clips (an embedded file: its own embeddings are the text)")
    e.add_argument("--root", required=True, help="their renders (use a --seed training never saw: unseen cameras)")
    e.add_argument("--step", type=_step, default=0, help="which render step of each view (0: the clip's frame 0), "
                                                        "or all")
    e.add_argument("--max-pictures", type=int, default=2000)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", help="also write the figures to this JSON file")
    e.set_defaults(func=cmd_eval)
