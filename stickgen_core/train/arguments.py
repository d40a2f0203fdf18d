"""The training command's flags (argparse only, so ``stickgen --help`` never imports torch)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The spec's training flags plus ``--run-dir``."""
    p.add_argument("--config", required=True, help="configs/small.yaml, configs/sft_small.yaml, ...")
    p.add_argument("--data_path", help="training file (overrides TRAIN_DATA_PATH and the config)")
    p.add_argument("--checkpoint_dir", help="run folder (alias of --run-dir, the spec's name)")
    p.add_argument("--run-dir", dest="run_dir", help="run folder (default runs/<stage>-<time>)")
    from ..config import TrainingConfig  # torch-free: the flags say what the keys they override say
    from ..config_fields import cli_help

    p.add_argument("--resume_from", help=f"{cli_help(TrainingConfig, 'resume_from')} Overrides RESUME_FROM_CHECKPOINT.")
    p.add_argument("--init_from", help=f"{cli_help(TrainingConfig, 'init_from')} Overrides INIT_FROM_CHECKPOINT.")
