"""Widgets the studio's pages share: the motion viewer with its issue timeline and clip card."""

from .clip_card import ClipCard, ClipCardView
from .motion_viewer import MotionViewer

__all__ = ["ClipCard", "ClipCardView", "MotionViewer"]
