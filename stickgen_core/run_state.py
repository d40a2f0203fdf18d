"""``RunState``: where a training run stands, as its run folder records it.

One vocabulary for the trainer (which writes ``status.json``), the jobs layer (``job_state.json``)
and the studio. It lives beside both rather than inside ``jobs/`` because the trainer may not
import the jobs layer (jobs uses train's CLI, never the other way round). A ``str`` enum: the
values are the strings the files hold, so ``RunState.FAILED == "failed"`` and ``json.dumps`` of
a record holding one writes ``"failed"``.
"""

from __future__ import annotations

from enum import Enum


class RunState(str, Enum):
    """A run's state. ``UNREACHABLE``, ``DAMAGED`` and ``UNKNOWN`` are a reader's verdicts: no
    writer records them, a runs list shows them when a pod does not answer or a file is bad."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    UNREACHABLE = "unreachable"
    DAMAGED = "damaged"
    UNKNOWN = "unknown"

    def __str__(self) -> str:  # f-strings and logs show the value, as the plain strings did
        return self.value

    # Enum hashes the member's name: a dict or set keyed by the plain strings would miss it
    __hash__ = str.__hash__

    @property
    def is_terminal(self) -> bool:
        """It ended: nothing of it runs, it may be resumed or deleted."""
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        """It waits or runs: it may be stopped, never deleted."""
        return self in _ACTIVE

    @classmethod
    def of(cls, value: object) -> "RunState":
        """The state a record's ``state`` field names; UNKNOWN for a missing or unknown value."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


_TERMINAL = frozenset({RunState.COMPLETED, RunState.FAILED, RunState.STOPPED})
_ACTIVE = frozenset({RunState.QUEUED, RunState.RUNNING})

#: the terminal and active states as tuples, for ``state in TERMINAL`` on a plain string too
TERMINAL: tuple[RunState, ...] = (RunState.COMPLETED, RunState.FAILED, RunState.STOPPED)
ACTIVE: tuple[RunState, ...] = (RunState.QUEUED, RunState.RUNNING)
