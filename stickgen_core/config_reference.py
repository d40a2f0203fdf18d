"""The reference Stick-Gen's config files read as ours.

Its key names are aliases of ours (``ALIASES``); keys we do not implement are collected and
reported in one warning; a key whose loss would change how the model trains is an error
that says what to change. Applied to every YAML layer of an ``extends:`` chain before it is
merged, so a file of ours may extend a reference file and the other way round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

log = logging.getLogger(__name__)

# reference key path -> our key path
ALIASES: dict[str, str] = {
    "model.nhead": "model.n_heads",
    "model.num_layers": "model.n_layers",
    "model.input_dim": "model.motion_dim",
    "model.output_dim": "model.motion_dim",
    "optimization.weight_decay": "training.weight_decay",
    "optimization.betas": "training.betas",
    "optimization.eps": "training.eps",
    "logging.log_interval": "training.log_interval",
    "device.type": "training.device",
}
# the reference splits curation into the two scripts that read it; ours is one flat section
CURATION_SUBSECTIONS = ("merge", "curation")
CURATION_RENAMES = {"balance_sources": "balance_by_source"}
# reference module names in lora.target_modules -> the names of our layers
LORA_MODULES = {"transformer_encoder": "blocks", "pose_decoder": "pose_head"}
STAGES = {"pretraining": "pretrain", "pretrain": "pretrain", "sft": "sft"}

# keys we accept and do not use, with the reason shown in the warning
IGNORED: dict[str, str] = {
    "metadata": "descriptive only",
    "physics": "the reference's physics sub-weights; its train.py does not read them either",
    "loss_weights.diff_physics": "the reference's Brax physics term is not implemented; trained without it",
    "model.fusion_strategy": "the image's encoding is always added to the text conditioning (stickgen_core/parallax)",
    "data.image_backend": "images are read with Pillow",
    "data.checkpoint_dir": "pass --checkpoint_dir or --run-dir",
    "data.log_dir": "logs go to the run folder",
    "data_generation": "the reference's generator settings",
    "device.num_workers": "batches are built in-process",
    "device.pin_memory": "batches are built in-process",
    "logging.level": "use stickgen -v",
    "logging.save_interval": "checkpoints are saved every epoch",
    "logging.verbose_file": "logs go to the run folder's train.log",
    "cpu": "torch picks its threads",
}


@dataclass
class Translation:
    """What reading a reference file changed: aliases used and keys ignored (with reasons)."""

    aliases: list[str] = field(default_factory=list)
    ignored: dict[str, list[str]] = field(default_factory=dict)  # reason -> key paths

    def ignore(self, path: str, why: str) -> None:
        self.ignored.setdefault(why, []).append(path)

    def ignored_text(self) -> str:
        return "; ".join(f"{', '.join(paths)} ({why})" for why, paths in self.ignored.items())


def _pop(doc: dict, path: str) -> tuple[bool, Any]:
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or leaf not in node:
        return False, None
    value = node.pop(leaf)
    if parents:  # drop a section the aliases emptied, so it is not reported as unknown
        parent = doc
        for key in parents[:-1]:
            parent = parent[key]
        if node == {} and isinstance(parent.get(parents[-1]), dict):
            parent.pop(parents[-1])
    return True, value


def _put(doc: dict, path: str, value: Any, given_as: str) -> None:
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: expected a mapping")
    if leaf in node and node[leaf] != value:
        raise ConfigError(f"{given_as} sets {path} to {value!r} where {path} is {node[leaf]!r}; keep one of them")
    node[leaf] = value


def _check_refused(doc: dict) -> None:
    """Reference keys whose loss would change training: an error saying what to do."""
    model = doc.get("model") if isinstance(doc.get("model"), dict) else {}
    for key in ("input_dim", "output_dim"):
        if key in model and model[key] != 48:
            raise ConfigError(f"model.{key}: {model[key]!r} is the reference's old v1 motion; this project trains "
                              f"v3 motion of 48 numbers per frame: set model.{key}: 48 (convert old data with "
                              f"stickgen convert --format reference)")
    optimizer = (doc.get("optimization") or {}).get("optimizer") if isinstance(doc.get("optimization"), dict) else None
    if optimizer is not None and str(optimizer).lower() != "adamw":  # AdamW: what training here uses
        raise ConfigError(f"optimization.optimizer: {optimizer!r} is not available; only AdamW is: remove the key "
                          f"or set it to AdamW")
    merge = (doc.get("data_curation") or {}).get("merge") if isinstance(doc.get("data_curation"), dict) else None
    if isinstance(merge, dict) and merge.get("filter_artifacts") is False:
        raise ConfigError("data_curation.merge.filter_artifacts: false keeps artefacts, which curation here always "
                          "filters: remove the key and set data_curation.max_artifact_score: 1.0 instead")


def translate(doc: dict) -> tuple[dict, Translation]:
    """``doc`` (one YAML layer) with reference keys renamed to ours and unimplemented ones removed."""
    if not isinstance(doc, dict):
        return doc, Translation()
    _check_refused(doc)
    out = _deep_copy(doc)
    done = Translation()
    _pop(out, "optimization.optimizer")  # AdamW, checked above
    for old, new in ALIASES.items():
        found, value = _pop(out, old)
        if found:
            _put(out, new, value, old)
            done.aliases.append(f"{old}→{new}")
    cur = out.get("data_curation")
    for sub in CURATION_SUBSECTIONS:
        if isinstance(cur, dict) and isinstance(cur.get(sub), dict):
            for key, value in cur.pop(sub).items():
                if key == "filter_artifacts":  # true is what curation here always does
                    continue
                _put(out, f"data_curation.{CURATION_RENAMES.get(key, key)}", value, f"data_curation.{sub}.{key}")
            done.aliases.append(f"data_curation.{sub}.*→data_curation.*")
    training = out.get("training")
    if isinstance(training, dict) and isinstance(training.get("stage"), str) and training["stage"] in STAGES:
        if training["stage"] != STAGES[training["stage"]]:
            done.aliases.append(f"training.stage {training['stage']}→{STAGES[training['stage']]}")
        training["stage"] = STAGES[training["stage"]]
    lora = out.get("lora")
    if isinstance(lora, dict) and isinstance(lora.get("target_modules"), list):
        renamed = [LORA_MODULES.get(m, m) for m in lora["target_modules"]]
        if renamed != lora["target_modules"]:
            done.aliases.append("lora.target_modules " + ", ".join(f"{a}→{b}" for a, b in LORA_MODULES.items()))
        lora["target_modules"] = renamed
    data = out.get("data")
    if isinstance(data, dict) and isinstance(data.get("parallax_image_size"), list):
        size = data["parallax_image_size"]
        if len(size) != 2 or size[0] != size[1]:
            raise ConfigError(f"data.parallax_image_size: expected one size or [size, size], got {size!r}")
        data["parallax_image_size"] = size[0]
        done.aliases.append("data.parallax_image_size [H, W]→H")
    model = out.get("model")
    if isinstance(model, dict) and model.get("image_encoder_arch") == "lightweight_cnn":  # the reference's name
        model["image_encoder_arch"] = "cnn"
        done.aliases.append("model.image_encoder_arch lightweight_cnn→cnn")
    for path, why in IGNORED.items():
        found, _ = _pop(out, path)
        if found:
            done.ignore(path, why)
    return out, done


def _deep_copy(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _deep_copy(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_deep_copy(v) for v in doc]
    return doc


_reported: set[tuple[str, str]] = set()


def report(source: str, done: Translation) -> None:
    """Log the aliases of one file (once per process) and its ignored keys in one warning."""
    if done.aliases and (source, "aliases") not in _reported:
        _reported.add((source, "aliases"))
        log.info("%s: reference Stick-Gen keys read as ours: %s", source, "; ".join(done.aliases))
    if done.ignored and (source, "ignored") not in _reported:
        _reported.add((source, "ignored"))
        log.warning("%s: keys not used here (accepted, no effect): %s", source, done.ignored_text())
