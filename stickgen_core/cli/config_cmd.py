"""Config commands: ``stickgen config show FILE`` (the resolved config and each value's source) and
``stickgen config keys [PREFIX]`` (every key's default, help and accepted values)."""

from __future__ import annotations

import argparse


def cmd_show(args: argparse.Namespace) -> int:
    from ..config_show import format_sources, resolved_with_sources

    rows = resolved_with_sources(args.file, data_path=args.data_path, resume_from=args.resume_from,
                                 init_from=args.init_from)
    print(format_sources(args.file, rows))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from ..config_show import format_reference, key_reference

    print(format_reference(key_reference(args.prefix or "")))
    return 0


def register(sub) -> None:
    c = sub.add_parser("config", help="inspect training configs (ours or the reference Stick-Gen's)")
    csub = c.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    s = csub.add_parser("show", help="the resolved config with the source of each value "
                                     "(file / extends / env / CLI / default)")
    s.add_argument("file")
    s.add_argument("--data_path", help="as stickgen train --data_path (CLI wins over TRAIN_DATA_PATH)")
    s.add_argument("--resume_from", help="as stickgen train --resume_from")
    s.add_argument("--init_from", help="as stickgen train --init_from")
    s.set_defaults(func=cmd_show)
    k = csub.add_parser("keys", help="every config key with its default, what it does and the values it accepts")
    k.add_argument("prefix", nargs="?", help="only keys starting with this (lora, training.warmup, ...)")
    k.set_defaults(func=cmd_keys)
