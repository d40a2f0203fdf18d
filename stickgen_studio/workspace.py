"""The workspace layout lives in the core (``stickgen_core.workspace``); re-exported for the studio's pages."""

from stickgen_core.workspace import DEFAULT_WORKSPACE, Workspace

__all__ = ["DEFAULT_WORKSPACE", "Workspace"]
