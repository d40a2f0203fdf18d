"""The training command's flags (argparse only, so ``stickgen --help`` never imports torch)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The spec's training flags plus ``--run-dir``."""
    p.add_argument("--config", required=True, help="configs/small.yaml, configs/sft_small.yaml, ...")
    p.add_argument("--data_path", help="training file (overrides TRAIN_DATA_PATH and the config)")
    p.add_argument("--checkpoint_dir", help="run folder (alias of --run-dir, the spec's name)")
    p.add_argument("--run-dir", dest="run_dir", help="run folder (default runs/<stage>-<time>)")
    p.add_argument("--resume_from", help="continue a run: weights, optimizer, schedule, epoch")
    p.add_argument("--init_from", help="start from these weights only (SFT warm start)")
