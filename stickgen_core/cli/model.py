"""Model commands: embeddings, training, merged LoRA export, generation."""

from __future__ import annotations

import argparse

from ..train.arguments import add_arguments as train_arguments
from ..progress_file import ProgressFile
from .common import bar as _bar
from .common import run_from


def cmd_embed(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..embedding import TextEncoder, embed_dataset

    emb = load_config(args.config).embedding if args.config else None
    model = args.model or (emb.model if emb else "all-MiniLM-L6-v2")
    batch = args.batch_size or (emb.batch_size if emb else 64)
    def encoder() -> TextEncoder:  # loaded once the input has passed validation
        return TextEncoder(model, batch_size=batch, **({"cache_dir": args.cache_dir} if args.cache_dir else {}))

    bar, progress = _bar(0, "embedding", unit="clip")
    report = ProgressFile(args.progress_file, unit="clips") if args.progress_file else None
    with bar:
        def prog(done: int, total: int) -> None:
            bar.total = total
            progress(done, total)
            if report:
                report.update(done, total)

        info = embed_dataset(args.input, args.output, encoder, progress=prog)
    print(f"wrote {info['samples']} samples to {args.output} with {info['model']} ({info['dim']}-dim); "
          f"{info['encoded']} texts encoded, the rest from the cache")
    return 0

def cmd_export_merged(args: argparse.Namespace) -> int:
    from ..train import export_merged

    out = export_merged(args.checkpoint, args.output)
    print(f"wrote {out} (LoRA adapters merged into the base weights)")
    return 0

COMPILE_HELP = ("compile the frame step with torch.compile: about 2x faster CPU generation after a one-time compile "
                "(~30 s in a new process, ~5 s once inductor's disk cache has it); needs a C++ compiler and falls "
                "back to the eager step with a note when it cannot compile")


def cmd_fit_planner(args: argparse.Namespace) -> int:
    from ..train import fit_planner_into

    out, acc, n = fit_planner_into(args.checkpoint, args.data, args.output)
    print(f"wrote {out} (action planner fitted on {n} clips, training accuracy {acc:.3f})")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..inference import InferenceGenerator, save_generation

    if args.camera is not None and args.image is None:
        raise ConfigError("--camera: only with --image (the camera the picture was seen from)")
    gen = InferenceGenerator(args.checkpoint, device=args.device, enable_safety_check=True, refine=not args.no_refine,
                             plan_actions=not args.no_plan, weights=args.weights,
                             compile_step=args.compile)
    out = gen.generate(args.prompt, seconds=args.seconds, seed=args.seed, guidance_scale=args.guidance,
                       image=args.image, camera=args.camera)
    save_generation(out, args.out)
    print(f"wrote {out['frames']} frames to {args.out}{' (diffusion-refined)' if out['refined'] else ''}")
    if "image" in out:
        print(f"started from {out['image']['source']} (camera from {out['image']['camera_from']})")
    for note in out["notes"]:
        print(f"note: {note}")
    if "safety" in out:
        print(f"safety: {'SAFE' if out['is_safe'] else 'UNSAFE'} (score {out['safety']['overall_score']:.2f})")
        for issue in out["safety"]["issues"]:
            print(f"    {issue['type']}: {issue['description']}")
    if args.gif:
        from ..render import save_gif

        save_gif(out["motion"], args.gif, title=out["prompt"])
        print(f"wrote {args.gif}")
    return 0


def register(sub) -> None:
    e = sub.add_parser("embed", help="add text embeddings to a dataset (build_dataset_for_training)")
    e.add_argument("--input", required=True)
    e.add_argument("--output", required=True)
    e.add_argument("--config", help="a config whose embedding section names the model")
    e.add_argument("--model", help="sentence-transformers model name or folder (default all-MiniLM-L6-v2, offline)")
    e.add_argument("--batch-size", type=int)
    e.add_argument("--cache-dir", help="embedding cache folder (default ~/.cache/stickgen/embeddings)")
    e.add_argument("--progress-file", help="keep {done, total, unit} clips in this JSON file (a job's supervisor reads it)")
    e.set_defaults(func=cmd_embed)

    tr = sub.add_parser("train", help="train the transformer (pretraining or SFT), resumable")
    train_arguments(tr)
    tr.set_defaults(func=run_from("stickgen_core.train.__main__:run"))

    x = sub.add_parser("export-merged", help="merge a LoRA checkpoint's adapters into plain weights")
    x.add_argument("checkpoint")
    x.add_argument("output")
    x.set_defaults(func=cmd_export_merged)

    gp = sub.add_parser("generate", help="text to motion with a trained checkpoint (safety-checked)")
    gp.add_argument("prompt")
    gp.add_argument("--checkpoint", required=True)
    gp.add_argument("--seconds", type=float, default=5.0)
    gp.add_argument("--seed", type=int)
    gp.add_argument("--out", default="generated.pt")
    gp.add_argument("--gif")
    gp.add_argument("--device", default="auto")
    gp.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: 2 for models trained "
                                                   "with text dropout, else 0)")
    gp.add_argument("--no-refine", action="store_true",
                    help="skip the diffusion refinement of checkpoints that have it (the transformer's motion alone)")
    gp.add_argument("--no-plan", action="store_true",
                    help="feed the model its own action guesses instead of the checkpoint's text -> action plan")
    gp.add_argument("--weights", choices=["float32", "int8"], default="float32",
                    help="int8: CPU generation with int8 weights (about 2x faster; outputs within ~1%% of float32)")
    gp.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    gp.add_argument("--image", help="a PNG (e.g. a frame of a parallax root) to start the motion from its pictured "
                                    "pose; for checkpoints trained with data.use_parallax_augmentation")
    gp.add_argument("--camera", help="the picture's camera x,y,z,tx,ty,tz,fov (position, target, vertical fov in "
                                     "degrees; --camera=-1,... when it starts with a minus); default: the camera "
                                     "the PNG's metadata.json records")
    gp.set_defaults(func=cmd_generate)

    fp = sub.add_parser("fit-planner", help="fit a text -> action plan into a checkpoint (models trained before plans)")
    fp.add_argument("checkpoint")
    fp.add_argument("--data", required=True, help="the embedded clips the checkpoint was trained on")
    fp.add_argument("--output", help="where to write the checkpoint (default: in place, atomically)")
    fp.set_defaults(func=cmd_fit_planner)
