"""One set of colours for the whole studio, so a colour means the same thing everywhere."""

from __future__ import annotations

SFT = "#2e9d57"            # clips in the SFT split (they are in pretraining too)
PRETRAIN_ONLY = "#5b8fd6"  # clips in pretraining but not in SFT
DROPPED = "#d9544d"        # clips left out of both splits
PRETRAIN_SPLIT = "#7d5ba6"  # the whole pretraining split (SFT + pretrain only) in share charts
TEXT = "#222222"           # axis text: 16:1 on white
AXIS = "#555555"
SELECTED = "#e67e00"       # the clip selected in the table

SPLIT_COLOURS = (SFT, PRETRAIN_ONLY, DROPPED)
SPLIT_NAMES = ("in SFT", "pretrain only", "dropped")


def legend_html(pairs: list[tuple[str, str]]) -> str:
    """'■ name' chips in their colours, for a QLabel."""
    return "&nbsp;&nbsp;".join(f"<span style='color:{c}'>■</span>&nbsp;{n}" for c, n in pairs)


SPLIT_LEGEND = legend_html(list(zip(SPLIT_COLOURS, SPLIT_NAMES)))
