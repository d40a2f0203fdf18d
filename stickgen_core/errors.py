"""Typed exceptions of stickgen_core.

Every error a user can cause carries a message that names the file, the sample
index or the config key involved and says what was expected, so that the CLI
and the studio can show it as it is, without a traceback.
"""

from __future__ import annotations


class StickGenError(Exception):
    """Base class of every error stickgen_core raises on purpose."""


class DatasetError(StickGenError):
    """A dataset file or folder could not be read or written."""

    def __init__(self, message: str, path: object | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnsafeFileError(DatasetError):
    """A file holds pickled code (or objects) that weights_only loading refuses."""


class SampleValidationError(StickGenError):
    """One or more samples break the canonical sample contract."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ConfigError(StickGenError):
    """A config file or value is invalid; the message names the key path."""


class TrainingDivergedError(StickGenError):
    """Training produced a non-finite loss or gradient; the message names the step and the clips."""


class JobError(StickGenError):
    """A training job could not be specified, launched, found or controlled."""


class RunPodError(JobError):
    """The RunPod API refused a request, or a pod did not come up (messages never hold the API key)."""


class AgentError(JobError):
    """The run agent of a pod refused a request or could not be reached."""


class ReportError(StickGenError):
    """An adversarial evaluation report could not be read; the message names the file and key."""


class VolumeStorageError(JobError):
    """A RunPod network volume could not be read or written through its S3 API (messages never hold keys)."""


class MotionInputError(StickGenError, ValueError):
    """A motion (or physics) array handed to a public function has the wrong type, shape or values."""


class CheckpointError(DatasetError):
    """A checkpoint file is not one this stickgen can load, resume from or build a model from (keys, types,
    weights, stored config, schema); a DatasetError, so handlers of dataset errors still catch it."""


class PathEscapeError(DatasetError):
    """A path built from a name (a suite, a prompt id, an upload) resolves outside the folder it must stay
    in (``..``, an absolute path, a symlink out); a DatasetError, so existing handlers still catch it."""
