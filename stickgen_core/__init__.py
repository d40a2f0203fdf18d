"""stickgen_core: the headless library behind StickGen Studio (never imports Qt)."""

__version__ = "0.1.0"
