"""Labels and descriptions from a dataset's own conventions, for every converter.

Where labels come from, strongest first: a JSON sidecar ``<stem>.json`` (``action``/``label``,
``style``, ``description``/``text``/``caption``, and BABEL-style frame labels: ``frame_ann.labels``
with ``start_t``/``end_t`` seconds, or ``segments`` with ``start``/``end``), then the file name
read by ``--name-pattern`` (``{_}_{action}_{style}_{take}``, or a regex with named groups), then
what a dataset converter knows (AIST++ genre, NTU action code, 100STYLE style and content).
A ``.txt`` sidecar's first line is a description. Source words map onto our action vocabulary
through ``ACTION_SYNONYMS`` (``dash -> run``, ``byebye -> wave``); a word that maps to nothing
becomes ``unknown`` and the source's own word is kept in ``meta.action_label``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DatasetError
from ..limits import read_json_file
from ..schema import ACTIONS, FPS_DEFAULT, UNKNOWN_ACTION, action_index

#: Source words (lower case, ``_`` between words) -> our action. Words the vocabulary or
#: ``schema.ACTION_ALIASES`` already know need no row; stems (-s, -es, -ing, -ed) are tried.
ACTION_SYNONYMS: dict[str, str] = {
    "dash": "run", "jog": "run", "trot": "run", "gallop": "run",
    "stroll": "walk", "stride": "walk", "march": "walk", "amble": "walk", "step": "walk", "locomotion": "walk",
    "bye": "wave", "byebye": "wave", "goodbye": "wave", "hello": "wave", "greet": "wave", "waving": "wave",
    "hop": "jump", "leap": "jump", "jump_up": "jump", "bounce_up": "jump",
    "rest": "idle", "still": "idle", "breathe": "idle", "stand_still": "idle", "wait": "idle",
    "sit_down": "sit", "seat": "sit",
    "get_up": "stand_up", "rise": "stand_up", "standup": "stand_up",
    "lie": "lie_down", "lay_down": "lie_down",
    "squat": "crouch", "duck": "crouch", "squat_down": "crouch", "bend_down": "crouch",
    "stumble": "fall", "trip": "fall", "collapse": "fall", "fall_down": "fall",
    "spin": "turn", "pivot": "turn", "rotate": "turn", "turn_around": "turn",
    "box": "punch", "jab": "punch", "slap": "punch", "hit": "fight", "push": "fight", "attack": "fight",
    "slash": "fight", "knock": "fight", "strike": "fight", "shove": "fight", "wrestle": "fight",
    "evade": "dodge",
    "toss": "throwing", "pitch": "pitching", "bat": "batting", "catch": "catching", "shoot": "shooting",
    "bounce": "dribbling", "dribble": "dribbling",
    "clapping": "clap", "applaud": "clap", "cheer": "celebrate", "cheer_up": "celebrate", "victory": "celebrate",
    "hugging": "hug", "embrace": "hug", "handshaking": "handshake", "shake_hand": "handshake",
    "shake_hands": "handshake", "high-five": "high_five", "highfive": "high_five",
    "speak": "talk", "chat": "talk", "yell": "shout", "scream": "shout",
    "drink": "drinking", "eat": "eating", "read": "reading", "type": "typing", "look": "looking_around",
    "crawl": "crawling", "swim": "swimming", "fly": "flying", "sob": "cry", "weep": "cry", "giggle": "laugh",
    "dancing": "dance", "ballet": "dance", "salsa": "dance", "waltz": "dance", "hiphop": "dance",
    "kneel_down": "kneel", "kicking": "kick",
}
#: Words that never name an action (skipped when a phrase is read word by word).
_STOPWORDS = frozenset("a an the and or of on at to in into with from his her their other each some "
                       "person man woman someone something both one two hand hands".split())
#: Our action -> the third-person phrase a default description uses.
_PHRASES = {"idle": "stands still", "sit": "sits down", "stand": "stands", "stand_up": "stands up",
            "lie_down": "lies down", "unknown": "moves", "looking_around": "looks around",
            "fight_stance": "takes a fighting stance", "running_bases": "runs the bases", "turn": "turns around"}


def _stems(word: str) -> list[str]:
    """``word`` and the stems a verb form may have (walks, dashes, running, waving, jumped)."""
    out = [word]
    for suf in ("ing", "ed", "es", "s"):
        if word.endswith(suf) and len(word) > len(suf) + 2:
            base = word[: -len(suf)]
            out += [base, base + "e"]
            if len(base) > 2 and base[-1] == base[-2]:
                out.append(base[:-1])  # running -> run, hopped -> hop
    return out


def _lookup(key: str) -> str | None:
    for cand in _stems(key):
        if cand in ACTION_SYNONYMS:
            return ACTION_SYNONYMS[cand]
        try:
            return ACTIONS[action_index(cand)]
        except KeyError:
            continue
    return None


def map_action(label: str) -> str:
    """Our action for a source's label (``dash`` -> ``run``, ``walk-back`` -> ``walk``,
    ``standing up (from sitting position)`` -> ``stand_up``); ``unknown`` when no word names one.
    The whole label is tried first, then word pairs, then single words, left to right."""
    words = [w for w in re.findall(r"[a-z]+", str(label).lower())]
    if not words:
        return "unknown"
    # each word by its first stem that maps alone, so 'standing up' joins as 'stand_up'
    base = [next((s for s in _stems(w) if _lookup(s) and s != w), w) for w in words]
    for phrase in ("_".join(words), "_".join(base), "".join(words)):
        hit = _lookup(phrase)
        if hit:
            return hit
    for i in range(len(words) - 1):
        for pair in (f"{words[i]}_{words[i + 1]}", f"{base[i]}_{base[i + 1]}"):
            hit = _lookup(pair)
            if hit:
                return hit
    for w in words:
        if w not in _STOPWORDS:
            hit = _lookup(w)
            if hit:
                return hit
    return "unknown"


def humanize(word: str) -> str:
    """A label as description words: ``walk-back`` -> ``walk back``, ``FlickLegs`` -> ``flick legs``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(word))
    return re.sub(r"[\s_\-]+", " ", spaced).strip().lower()


def verb_phrase(action: str, label: str | None = None) -> str:
    """Third-person phrase of an action (``run`` -> ``runs``); an unknown action reads as its label."""
    if action == "unknown" and label:
        return humanize(label)
    if action in _PHRASES:
        return _PHRASES[action]
    words = action.split("_")
    verb = words[0]
    verb = verb + ("es" if verb.endswith(("s", "sh", "ch", "x")) else "s")
    return " ".join([verb] + words[1:])


@dataclass
class Labels:
    """What a clip is, in the source's words and ours. ``segments`` are BABEL-style frame
    labels ``(start_s, end_s, source label)``; ``fields`` every named value (template keys)."""

    label: str | None = None
    style: str | None = None
    description: str | None = None
    phrase: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    fixed_action: str | None = None  # a dataset's own mapping of ``label``, where words would mislead

    def merged(self, stronger: "Labels") -> "Labels":
        """These labels with every value ``stronger`` sets put over them."""
        out = replace(self, fields={**self.fields, **stronger.fields})
        if stronger.label:  # a new label drops the mapping and wording made for the old one
            out.fixed_action, out.phrase = stronger.fixed_action, None
        for key in ("label", "style", "description", "phrase", "fixed_action"):
            if getattr(stronger, key):
                setattr(out, key, getattr(stronger, key))
        if stronger.segments:
            out.segments = list(stronger.segments)
        return out

    @property
    def action(self) -> str | None:
        """Our action for the clip: the dataset's mapping, else the label's words; None without a label."""
        return self.fixed_action or (map_action(self.label) if self.label else None)


def compile_name_pattern(pattern: str) -> re.Pattern:
    """A ``--name-pattern`` as a regex on the file stem: ``{field}`` templates (``{_}`` skips a
    part) or a regex with named groups (``(?P<action>...)``). ConfigError on a bad pattern."""
    if "(?P<" in pattern:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"--name-pattern {pattern!r} is not a valid regular expression ({exc})") from None
    else:
        parts: list[str] = []
        try:
            for literal, name, spec, _ in string.Formatter().parse(pattern):
                parts.append(re.escape(literal))
                if name is None:
                    continue
                if spec or not (name == "_" or name.isidentifier()):
                    raise ConfigError(f"--name-pattern: bad field {{{name}{':' + spec if spec else ''}}} "
                                      "(expected {name} or {_})")
                parts.append("(?:.+?)" if name == "_" else f"(?P<{name}>.+?)")
            rx = re.compile("^" + "".join(parts) + "$")
        except (ValueError, re.error) as exc:  # unbalanced braces, a field named twice
            raise ConfigError(f"--name-pattern {pattern!r} is malformed ({exc})") from None
    if not rx.groupindex:
        raise ConfigError(f"--name-pattern {pattern!r} names no field (expected e.g. '{{_}}_{{action}}_{{style}}')")
    return rx


def labels_from_name(path: str | Path, pattern: str | re.Pattern) -> Labels:
    """The fields ``pattern`` reads from the file's stem; DatasetError naming the file when it does not match."""
    p = Path(path)
    rx = compile_name_pattern(pattern) if isinstance(pattern, str) else pattern
    m = rx.search(p.stem)
    if not m:
        raise DatasetError(f"{p}: file name {p.stem!r} does not match --name-pattern {rx.pattern!r}", p)
    fields = {k: v for k, v in m.groupdict().items() if v is not None}
    return Labels(label=fields.get("action") or fields.get("label"), style=fields.get("style"), fields=fields)


def _segments(data: dict, where: Path) -> list[tuple[float, float, str]]:
    frame_ann = data.get("frame_ann") or {}
    rows = frame_ann.get("labels") if isinstance(frame_ann, dict) else None
    rows = rows if rows is not None else data.get("segments") or []
    out = []
    for k, row in enumerate(rows):
        try:
            start = float(row.get("start_t", row.get("start")))
            end = float(row.get("end_t", row.get("end")))
            cats = row.get("act_cat") or []
            label = row.get("proc_label") or row.get("raw_label") or row.get("action") or row.get("label") \
                or (cats[0] if cats else None)
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(f"{where}: frame label {k}: expected start/end seconds and a label", where) from None
        if not label or not end > start:
            raise DatasetError(f"{where}: frame label {k}: expected a label and end > start, got {row!r:.120}", where)
        out.append((start, end, str(label)))
    return out


def _text(value: object) -> str | None:
    """A JSON value as a label word or text (strings and numbers; anything else is no label)."""
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value) else None


def labels_from_sidecar(path: str | Path) -> Labels:
    """Labels of ``<stem>.json`` / ``<stem>.txt`` beside a file (empty when neither exists).
    The JSON is read bounded and depth-checked (``limits.read_json_file``); the text's first
    64 KiB are enough for its first line."""
    p = Path(path)
    js, txt = p.with_suffix(".json"), p.with_suffix(".txt")
    out = Labels()
    if txt.is_file():
        with open(txt, "rb") as fh:
            head = fh.read(1 << 16).decode("utf-8", errors="replace")
        out.description = next((t for t in (ln.split("#", 1)[0].strip() for ln in head.splitlines()) if t), None)
    if js.is_file():
        data = read_json_file(js, "a JSON label sidecar", DatasetError)
        if not isinstance(data, dict):
            raise DatasetError(f"{js}: expected a JSON object of labels, got {type(data).__name__}", js)
        seq_rows = (data.get("seq_ann") or {}).get("labels") if isinstance(data.get("seq_ann"), dict) else None
        seq = seq_rows[0] if isinstance(seq_rows, list) and seq_rows and isinstance(seq_rows[0], dict) else {}
        label = _text(data.get("action") or data.get("label") or seq.get("proc_label") or seq.get("raw_label"))
        text = _text(data.get("description") or data.get("text") or data.get("caption"))
        out = out.merged(Labels(label=label, style=_text(data.get("style")), description=text,
                                segments=_segments(data, js),
                                fields={k: t for k, v in data.items() if (t := _text(v)) is not None}))
    return out


def label_files(path: str | Path) -> list[Path]:
    """The files beside ``path`` its labels may come from (sidecars, a ``texts/`` caption file) that
    exist: what a cache of its conversion must key on besides the file itself."""
    p = Path(path)
    cands = [p.with_suffix(".json"), p.with_suffix(".txt"), p.parent.parent / "texts" / f"{p.stem}.txt"]
    return [c for c in dict.fromkeys(cands) if c.is_file()]


def clip_labels(path: str | Path, name_pattern: str | re.Pattern | None = None,
                dataset: Labels | None = None) -> Labels:
    """A file's labels: the dataset converter's, under the name pattern's, under the sidecars'."""
    out = dataset or Labels()
    if name_pattern:
        out = out.merged(labels_from_name(path, name_pattern))
    return out.merged(labels_from_sidecar(path))


def describe(labels: Labels, template: str | None, path: str | Path) -> str:
    """The clip's description: ``template`` filled from the labels (``{action}``, ``{verb}``, ``{label}``,
    ``{style}``, ``{name}`` and every named field), else the source's text, else a sentence from the labels."""
    p = Path(path)
    action = labels.action or "unknown"
    values = {**labels.fields, "name": p.stem, "label": humanize(labels.label or action),
              "action": humanize(labels.label) if action == "unknown" and labels.label else action.replace("_", " "),
              "verb": labels.phrase or verb_phrase(action, labels.label), "style": humanize(labels.style or "")}
    if template and "{" in template:
        try:
            return template.format(**values).strip()
        except KeyError as exc:
            raise DatasetError(f"{p}: --describe names {{{exc.args[0]}}}, which this file's labels lack "
                               f"(known: {', '.join(sorted(values))})", p) from None
        except (ValueError, IndexError) as exc:
            raise DatasetError(f"{p}: --describe template {template!r} is malformed ({exc})", p) from None
    if template:
        return template
    if labels.description:
        return labels.description
    if labels.label or labels.phrase:
        style = humanize(labels.style) if labels.style else ""
        article = "an" if style[:1] in "aeiou" else "a"
        return f"a person {values['verb']}" + (f" in {article} {style} way" if style else "")
    return "motion capture: " + p.stem.replace("_", " ")


def frame_actions(labels: Labels, T: int, fps: float = FPS_DEFAULT, default: int = UNKNOWN_ACTION) -> np.ndarray:
    """``[T]`` action indices at ``fps``: the segment holding each frame's time (the latest-starting
    one where segments overlap, as the more specific label), ``default`` outside every segment."""
    out = np.full(T, default, dtype=np.int64)
    t = np.arange(T) / fps
    for start, end, label in sorted(labels.segments, key=lambda s: s[0]):
        out[(t >= start) & (t < end)] = action_index(map_action(label))
    return out


def label_sample(sample: dict, labels: Labels, template: str | None, path: str | Path) -> dict:
    """``sample`` with its description, actions (``[T]`` or ``[T, A]``) and ``meta`` labels set from
    ``labels``; a clip without labels keeps the action the converter guessed."""
    out = dict(sample, description=describe(labels, template, path))
    meta = dict(sample.get("meta") or {})
    acts = sample["actions"]
    clip_action = action_index(labels.action) if labels.label else int(acts.reshape(-1)[0]) if acts.numel() else UNKNOWN_ACTION
    if labels.label or labels.segments:
        per_frame = frame_actions(labels, acts.shape[0], float(meta.get("fps", FPS_DEFAULT)), clip_action)
        shaped = per_frame if acts.ndim == 1 else np.repeat(per_frame[:, None], acts.shape[1], axis=1)
        out["actions"] = torch.from_numpy(np.ascontiguousarray(shaped))
        meta["action"] = ACTIONS[clip_action]
    if labels.label:
        meta["action_label"] = labels.label
    if labels.style:
        meta["style"] = labels.style
    if labels.segments:
        meta["frame_labels"] = [{"start": s, "end": e, "label": lab, "action": map_action(lab)}
                                for s, e, lab in labels.segments]
    if labels.fields:
        meta["labels"] = dict(labels.fields)
    out["meta"] = meta
    return out
