"""Schema versions: old datasets and checkpoints are brought to the current action vocabulary.

A sample records ``schema_version`` (``schema.SCHEMA_VERSION``); a checkpoint records it too.
A sample without one is read by what it carries:

* action names (``annotations.action_summary.distribution``, as the reference Stick-Gen
  writes them): the indices must name the same actions in the current vocabulary (kept) or
  in this project's first one (remapped); anything else is an error, never a silent relabel;
* no names: a file written by this project before versions existed (16 actions), remapped.

An index outside the vocabulary it is read with is an error naming the file and sample.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import CheckpointError, DatasetError, SampleValidationError
from .schema import (ACTIONS, LEGACY_ACTIONS_V1, LEGACY_V1_TO_CURRENT, NUM_ACTIONS, SCHEMA_VERSION,
                     action_index)

log = logging.getLogger(__name__)

#: Action slots of models built by this version (the reference's models use 64 too).
MODEL_NUM_ACTIONS = 64
_ACTION_PARAM_SUFFIXES = ("action_emb.weight", "action_head.weight", "action_head.bias",
                          "action_head.base_layer.weight", "action_head.base_layer.bias")


def action_names_of(sample: Mapping) -> set[str] | None:
    """Action names a sample carries about its own labels (reference ``action_summary``), or None."""
    notes = sample.get("annotations")
    summary = notes.get("action_summary") if isinstance(notes, Mapping) else None
    dist = summary.get("distribution") if isinstance(summary, Mapping) else None
    if isinstance(dist, Mapping) and dist:
        return {str(k) for k, v in dist.items() if not isinstance(v, (int, float)) or v > 0}
    return None


def _indices(actions: Any) -> np.ndarray:
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    return actions.detach().cpu().numpy() if isinstance(actions, torch.Tensor) else np.asarray(actions)


def _vocabulary_of(sample: Mapping, used: np.ndarray, where: str) -> int:
    """The schema version whose vocabulary names the indices ``used`` as the sample's names say."""
    names = action_names_of(sample)
    if names is None:
        if used.size and used.max() >= len(LEGACY_ACTIONS_V1):
            raise ValueError(f"{where}: action index {int(used.max())} is outside the 16-action vocabulary "
                             f"of unversioned files and the sample names no actions; convert files of the "
                             f"reference Stick-Gen with `stickgen convert SRC --format reference`")
        return 1
    try:
        wanted = {ACTIONS[action_index(n)] for n in names}
    except KeyError as exc:
        raise ValueError(f"{where}: annotations.action_summary: {exc.args[0]}") from None
    if used.size and used.min() >= 0 and used.max() < NUM_ACTIONS and {ACTIONS[i] for i in used} == wanted:
        return SCHEMA_VERSION
    if used.size and used.min() >= 0 and used.max() < len(LEGACY_ACTIONS_V1) and \
            {ACTIONS[LEGACY_V1_TO_CURRENT[i]] for i in used} == wanted:
        return 1
    raise ValueError(f"{where}: action indices {sorted(map(int, used))[:8]} do not match the names in "
                     f"annotations.action_summary ({', '.join(sorted(names))}) in any known vocabulary")


def upgrade_sample(sample: Any, where: str) -> Any:
    """The sample in the current schema (a copy when anything changed). ValueError naming ``where``."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    if not isinstance(sample, Mapping):
        return sample
    version = sample.get("schema_version")
    if version == SCHEMA_VERSION:
        return sample
    if version is not None and (not isinstance(version, int) or version > SCHEMA_VERSION or version < 1):
        raise ValueError(f"{where}: schema_version {version!r} is not one this version reads "
                         f"(1..{SCHEMA_VERSION}); update stickgen")
    actions = sample.get("actions")
    out = dict(sample)
    out["schema_version"] = SCHEMA_VERSION
    if actions is None or not hasattr(actions, "shape") or not np.issubdtype(_indices(actions).dtype, np.integer):
        return out  # no labels to read (or broken ones: validation names them)
    idx = _indices(actions)
    used = np.unique(idx)
    if version is None:
        version = _vocabulary_of(sample, used, where)
    if version == 1:
        if used.size and (used.min() < 0 or used.max() >= len(LEGACY_ACTIONS_V1)):
            raise ValueError(f"{where}: action index {int(used.max())} is outside the 16 actions of schema 1")
        out["actions"] = torch.from_numpy(LEGACY_V1_TO_CURRENT[idx])
    return out


def upgrade_samples(samples: Sequence, path: object) -> list:
    """Every sample of a loaded file in the current schema; SampleValidationError naming the
    file, the first failing sample and how many failed."""
    out, failures = [], []
    for i, s in enumerate(samples):
        try:
            out.append(upgrade_sample(s, f"{path} sample {i}"))
        except ValueError as exc:
            failures.append(str(exc))
            out.append(s)
    if failures:
        more = f" (and {len(failures) - 1} more sample(s) like it)" if len(failures) > 1 else ""
        raise SampleValidationError(failures[0] + more, failures)
    return out


def upgrade_checkpoint(ck: dict, path: object) -> dict:
    """A checkpoint in the current schema: an unversioned (16-action) one gets its action
    embedding and head rows moved to the current indices, ``model.num_actions`` =
    ``MODEL_NUM_ACTIONS``, and loses its optimizer state (its moments no longer fit)."""
    import torch  # on first use: ~1.5 s to import, kept off the studio's start-up
    version = ck.get("schema_version")
    if version == SCHEMA_VERSION:
        return ck
    if version not in (None, 1):
        raise CheckpointError(f"{path}: checkpoint schema_version {version!r} is newer than this stickgen reads "
                           f"(up to {SCHEMA_VERSION})", path)
    cfg = dict(ck.get("config") or {})
    model_cfg = dict(cfg.get("model") or {})
    old_n = int(model_cfg.get("num_actions", len(LEGACY_ACTIONS_V1)))
    out = dict(ck, schema_version=SCHEMA_VERSION)
    if old_n != len(LEGACY_ACTIONS_V1):  # not a legacy-vocabulary model: indices already agree
        return out
    new_n = MODEL_NUM_ACTIONS
    state = dict(ck["model_state_dict"])
    for key, w in state.items():
        if key.endswith(_ACTION_PARAM_SUFFIXES) and w.shape[:1] == (old_n,):
            fresh = torch.zeros((new_n,) + tuple(w.shape[1:]), dtype=w.dtype)
            if key.endswith("bias"):  # actions the old model never saw start as unlikely ones
                fresh.fill_(float(w.min()))
            fresh[torch.from_numpy(LEGACY_V1_TO_CURRENT)] = w
            state[key] = fresh
    out["model_state_dict"] = state
    if "lora_state_dict" in ck and ck["lora_state_dict"]:
        out["lora_state_dict"] = {k: v for k, v in state.items() if k in ck["lora_state_dict"]} or ck["lora_state_dict"]
    model_cfg["num_actions"] = new_n
    cfg["model"] = model_cfg
    out["config"] = cfg
    for k in ("optimizer_state_dict", "scheduler_state_dict"):
        out.pop(k, None)
    log.warning("%s: checkpoint of schema 1 (16 actions) migrated to schema %d (%d action slots); "
                "its optimizer state is dropped", path, SCHEMA_VERSION, new_n)
    return out
