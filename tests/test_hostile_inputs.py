"""Every CLI entry on hostile and broken inputs, each in its own process under a memory cap.

Each case must end with exit code 2 and one ``error:`` line naming the file, sample or key
and what was expected; no traceback; no process killed by a signal; no file written
outside the case's output folder. A few cases are inputs the tools must *accept* without a
crash (exit 0). Set HOSTILE_REPORT=path to get the counts as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from tests.hostile_cases import (EMB, alias_bomb, bomb_config, checkpoint, clips, embedded, nan_weights, run_cli,
                                 save, snapshot, suites, tensor_bomb, tiny_config, write_report, wrong_shape, write)

RESULTS: dict[str, str] = {}


def _real_bvh(root: Path) -> Path:
    """walk01.bvh of ../shared/data, or (on a clone without it) a generated 101-frame walk in ``root``."""
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "bvh" / "walk01.bvh"
    if not path.exists():
        from tests.bvh_fixtures import write_bvh

        return write_bvh(root / "walk01.bvh", "mixamo", frames=101)
    return path


def _with(samples: list[dict], i: int, **changes) -> list[dict]:
    samples[i] = dict(samples[i], **changes)
    return samples


def _nan_motion(n=6, i=1):
    s = clips(n)
    m = s[i]["motion"].clone()
    m[3, 5] = float("nan")
    return _with(s, i, motion=m)


def _train(r, data, cfg=None, *extra):
    return ["train", "--config", cfg or tiny_config(r), "--data_path", data, "--run-dir", "out/run", *extra]


def _emb_nan(r):
    s = embedded()
    s[3]["embedding"] = s[3]["embedding"].clone()
    s[3]["embedding"][0] = float("nan")
    return save(s, r / "emb_nan.pt")


def _two_dims(r):
    s = embedded()
    s[5]["embedding"] = torch.zeros(EMB + 8)
    return save(s, r / "two_dims.pt")


def _big_clip(r):
    s = clips(1)[0]
    reps = 5000 // len(s["motion"]) + 1
    big = {**s, "motion": s["motion"].repeat(reps, 1)[:5000], "actions": None, "physics": None, "camera": None}
    return save([big], r / "long.pt")


def _no_optimizer(ck):
    for k in ("optimizer_state_dict", "scheduler_state_dict"):
        ck.pop(k)


# name: (build(root, shared) -> argv, substrings the error line must hold[, extra env[, file cap]])
CASES = {
    # ---- path traversal
    "eval: prompt id climbs out": (lambda r, s: ["eval-adversarial", "--checkpoint", "none.pth", "--output_dir", "out",
                                                 "--suites-file", suites(r, pid="../../../../victim/precious")],
                                   ["suites.yaml", "prompts[0].id", "file name"]),
    "eval: absolute prompt id": (lambda r, s: ["eval-adversarial", "--checkpoint", "none.pth", "--output_dir", "out",
                                               "--suites-file", suites(r, pid=str(r.parent / "victim" / "x"))],
                                 ["suites.yaml", "prompts[0].id"]),
    "eval: suite name climbs out": (lambda r, s: ["eval-adversarial", "--checkpoint", "none.pth", "--output_dir", "out",
                                                  "--suites-file", suites(r, suite="../../victim")],
                                    ["suites.yaml", "suites", "file name"]),
    # ---- non-finite values
    "train: NaN embedding": (lambda r, s: _train(r, _emb_nan(r)), ["emb_nan.pt sample 3", "embedding", "finite"]),
    "train: NaN motion": (lambda r, s: _train(r, save(_nan_motion(), r / "nan.pt")), ["nan.pt sample 1", "motion"]),
    "train: init_from NaN checkpoint": (lambda r, s: _train(r, save(embedded(), r / "d.pt"), None, "--init_from",
                                                            checkpoint(s, "nan.pth", nan=nan_weights)),
                                        ["nan.pth", "NaN"]),
    "train: resume_from NaN checkpoint": (lambda r, s: _train(r, save(embedded(), r / "d.pt"), None, "--resume_from",
                                                              checkpoint(s, "nan.pth", nan=nan_weights)),
                                          ["nan.pth", "NaN"]),
    "export-merged: NaN checkpoint": (lambda r, s: ["export-merged", checkpoint(s, "nan.pth", nan=nan_weights),
                                                    "out/m.pth"], ["nan.pth", "NaN"]),
    "generate: NaN checkpoint": (lambda r, s: ["generate", "walk", "--checkpoint",
                                               checkpoint(s, "nan.pth", nan=nan_weights), "--out", "out/g.pt"],
                                 ["nan.pth", "NaN"]),
    "critic: NaN motion at --index": (lambda r, s: ["critic", save(_nan_motion(), r / "nan.pt"), "--index", "1"],
                                      ["nan.pt sample 1", "finite"]),
    "embed: NaN motion": (lambda r, s: ["embed", "--input", save(_nan_motion(), r / "nan.pt"), "--output", "out/e.pt"],
                          ["nan.pt sample 1", "motion"]),
    "embed: description None": (lambda r, s: ["embed", "--input", save(_with(clips(), 2, description=None), r / "n.pt"),
                                              "--output", "out/e.pt"], ["n.pt sample 2", "description"]),
    # ---- resource exhaustion
    "train: YAML alias bomb": (lambda r, s: _train(r, "none.pt", bomb_config(r)), ["bomb.yaml", "aliases"]),
    "curate: YAML alias bomb": (lambda r, s: ["curate", "--inputs", save(clips(), r / "d.pt"), "--output-dir", "out",
                                              "--config", bomb_config(r)], ["bomb.yaml", "aliases"]),
    "eval: alias bomb in prompt text": (lambda r, s: ["eval-adversarial", "--checkpoint", "none.pth", "--output_dir",
                                                      "out", "--suites-file",
                                                      write(r / "suites.yaml", alias_bomb() + suites(r).read_text()
                                                            .replace('"a person walks"', "*a8"))],
                                        ["suites.yaml", "aliases"]),
    "train: 5 MB config": (lambda r, s: _train(r, "none.pt", write(r / "big.yaml", "# pad\n" * 900_000)),
                           ["big.yaml", "bytes", "STICKGEN_MAX_YAML_BYTES"]),
    "validate: tensor bomb": (lambda r, s: ["validate", tensor_bomb(r / "bomb.pt")],
                              ["bomb.pt", "GiB", "STICKGEN_MAX_UNPACKED_BYTES"], {"STICKGEN_MAX_UNPACKED_BYTES": "1000000"}),
    "critic: tensor bomb": (lambda r, s: ["critic", tensor_bomb(r / "bomb.pt")], ["bomb.pt", "refused"],
                            {"STICKGEN_MAX_UNPACKED_BYTES": "1000000"}),
    "render: 5000-frame clip": (lambda r, s: ["render", _big_clip(r), "--gif", "out/a.gif"],
                                ["long.pt", "5000 frames", "--every"]),
    # ---- checkpoint contents
    "export-merged: wrong tensor shape": (lambda r, s: ["export-merged", checkpoint(s, "shape.pth", x=wrong_shape),
                                                        "out/m.pth"], ["shape.pth", "do not fit", "[3, 3]"]),
    "train: init_from another model size": (lambda r, s: _train(r, save(embedded(), r / "d.pt"),
                                                                tiny_config(r, model={"d_model": 64}), "--init_from",
                                                                checkpoint(s)), ["good.pth", "do not fit"]),
    "train: init_from another embedding dim": (
        lambda r, s: _train(r, save([dict(x, embedding=torch.zeros(EMB + 8)) for x in embedded()], r / "d.pt"),
                            None, "--init_from", checkpoint(s)), ["good.pth", "do not fit"]),
    "export-merged: config is a list": (lambda r, s: ["export-merged", checkpoint(s, "c.pth", config=[1]), "out/m.pth"],
                                        ["c.pth", "'config' should be a dict"]),
    "export-merged: epoch is text": (lambda r, s: ["export-merged", checkpoint(s, "e.pth", epoch="one"), "out/m.pth"],
                                     ["e.pth", "'epoch'"]),
    "export-merged: state dict is a list": (lambda r, s: ["export-merged", checkpoint(s, "l.pth", model_state_dict=[]),
                                                          "out/m.pth"], ["l.pth", "model_state_dict"]),
    "export-merged: stray lora_state_dict": (lambda r, s: ["export-merged", checkpoint(
        s, "lo.pth", lora_state_dict={"x.lora_A": torch.zeros(2)}), "out/m.pth"], ["lo.pth", "lora_state_dict"]),
    "train: resume_from a weights-only file": (lambda r, s: _train(r, save(embedded(), r / "d.pt"), None,
                                                                   "--resume_from", checkpoint(s, "w.pth", x=_no_optimizer)),
                                               ["w.pth", "weights only", "--init_from"]),
    # ---- sample fields
    "annotate: no valid clip": (lambda r, s: ["annotate", save(_nan_motion(2, 0)[:1], r / "bad.pt")],
                                ["bad.pt", "no valid clip", "sample 0"]),
    "curate: no valid clip": (lambda r, s: ["curate", "--inputs", save(_nan_motion(2, 0)[:1], r / "bad.pt"),
                                            "--output-dir", "out"], ["bad.pt", "no valid clip"]),
    "critic: fps as text at --index": (lambda r, s: ["critic", save(_with(clips(), 1, fps="fast"), r / "f.pt"),
                                                     "--index", "1"], ["f.pt sample 1", "fps"]),
    "train: embeddings of two dims": (lambda r, s: _train(r, _two_dims(r)), ["two_dims.pt", "sample 5", "dim"]),
    "train: invalid sample, no bogus flag": (lambda r, s: _train(r, save(_nan_motion(), r / "nan.pt")),
                                             ["nan.pt sample 1", "stickgen validate"]),
    # ---- config ranges
    "train: negative learning rate": (lambda r, s: _train(r, "x.pt", tiny_config(r, training={"learning_rate": -1})),
                                      ["tiny.yaml", "training.learning_rate"]),
    "train: NaN learning rate": (lambda r, s: _train(r, "x.pt", write(r / "nan.yaml", "training:\n  learning_rate: .nan\n")),
                                 ["nan.yaml", "training.learning_rate"]),
    "train: dropout 5": (lambda r, s: _train(r, "x.pt", tiny_config(r, model={"dropout": 5})), ["model.dropout"]),
    "train: n_heads 0": (lambda r, s: _train(r, "x.pt", tiny_config(r, model={"n_heads": 0})), ["model.n_heads"]),
    "train: bad LoRA regex": (lambda r, s: _train(r, "x.pt", tiny_config(r, lora={"target_modules": ["(["]})),
                              ["lora.target_modules[0]", "regular expression"]),
    "train: val_fraction 2": (lambda r, s: _train(r, "x.pt", tiny_config(r, training={"val_fraction": 2})),
                              ["training.val_fraction"]),
    "train: duplicate YAML key": (lambda r, s: _train(r, "x.pt", write(r / "dup.yaml", "training:\n  epochs: 1\n"
                                                                       "  epochs: 100\n")),
                                  ["dup.yaml", "duplicate key 'epochs'", "line 3"]),
    "critic: severity threshold 5": (lambda r, s: ["critic", save(clips(), r / "d.pt"), "--rejection-severity-threshold",
                                                   "5"], ["rejection_severity_threshold", "(0, 1]"]),
    # ---- outputs, devices, indices
    "generate-data: output is a folder": (lambda r, s: (r / "out" / "dir").mkdir(parents=True) or
                                          ["generate-data", "--num-samples", "2", "--output", "out/dir"],
                                          ["out/dir", "is a folder"]),
    "annotate: output is a folder": (lambda r, s: (r / "out").mkdir() or ["annotate", save(clips(), r / "d.pt"),
                                                                            "--output", "out"], ["out", "is a folder"]),
    "curate: output folder is a file": (lambda r, s: write(r / "out", "x") and ["curate", "--inputs",
                                                                                save(clips(), r / "d.pt"),
                                                                                "--output-dir", "out"],
                                        ["out", "is a file"]),
    "train: device tpu9": (lambda r, s: _train(r, save(embedded(), r / "d.pt"), tiny_config(r, training={"device": "tpu9"})),
                           ["tpu9", "expected auto, cpu"]),
    "generate: --device tpu9": (lambda r, s: ["generate", "walk", "--checkpoint", checkpoint(s), "--device", "tpu9",
                                              "--out", "out/g.pt"], ["tpu9", "expected auto, cpu"]),
    "render: --index of an invalid sample": (lambda r, s: ["render", save(_nan_motion(), r / "nan.pt"), "--index", "1",
                                                           "--gif", "out/a.gif"], ["nan.pt sample 1", "finite"]),
    "render: --index past the end": (lambda r, s: ["render", save(clips(3), r / "d.pt"), "--index", "3",
                                                   "--gif", "out/a.gif"], ["d.pt", "--index 3", "3 sample(s)"]),
    "train: full disk": (lambda r, s: _train(r, save(embedded(), r / "d.pt")), ["cannot write"], {}, 60_000),
    # ---- conversion (real BVH from /work/shared/data, bent)
    "convert: truncated BVH header": (lambda r, s: ["convert", write(r / "bad.bvh", "HIERARCHY\nROOT Hips\n{\n"),
                                                    "--format", "bvh", "--out", "out/c.pt"], ["bad.bvh", "BVH"]),
    "convert: BVH declares 10^8 frames": (lambda r, s: ["convert", write(r / "huge.bvh", re.sub(
        r"Frames:\s*101", "Frames: 100000000", _real_bvh(r).read_text())), "--format", "bvh", "--out", "out/c.pt"], ["huge.bvh", "MOTION holds"]),
    "convert: output is a folder": (lambda r, s: (r / "out").mkdir() or ["convert", _real_bvh(r), "--format", "bvh",
                                                                         "--out", "out"], ["out", "is a folder"]),
    **{f"convert: BVH {what}": (lambda r, s, a=a, b=b: ["convert", write(r / "bent.bvh", re.sub(
        a, b, _real_bvh(r).read_text(), count=1, flags=re.M)), "--format", "bvh", "--out", "out/c.pt"], ["bent.bvh", want])
       for what, a, b, want in (
           ("CHANNELS -2", r"CHANNELS 3", "CHANNELS -2", "expected a count from 0 to 6"),
           ("Frame Time 1e4", r"^Frame Time:.*$", "Frame Time: 1e4", "STICKGEN_MAX_CONVERT_FRAMES"),
           ("Frame Time 1e6", r"^Frame Time:.*$", "Frame Time: 1e6", "STICKGEN_MAX_CONVERT_FRAMES"),
           ("Frame Time 1e300", r"^Frame Time:.*$", "Frame Time: 1e300", "STICKGEN_MAX_CONVERT_FRAMES"),
           ("Frames: 0", r"^Frames:.*$", "Frames: 0", "expected at least 2 frames"),
           ("channel name not X/Y/Z", r"CHANNELS 3 \w+", "CHANNELS 3 Wrotation", "channel 'Wrotation'"),
           ("four rotation channels", r"CHANNELS 3 (\w+) (\w+) (\w+)", r"CHANNELS 4 \1 \2 \3 \1", "repeats a rotation axis"),
           ("JOINT in place of ROOT", r"^ROOT", "JOINT", "outside a joint's braces"),
           ("missing closing brace", r"^}\s*\nMOTION", "MOTION", "not closed"))},
}

# inputs that must be accepted (exit 0) without a crash: (build, text stdout must hold)
ACCEPTED = {
    "annotate: fps as text": (lambda r: ["annotate", save(_with(clips(), 1, fps="fast"), r / "f.pt")], "(1 invalid)"),
    "annotate: malformed injected_defects": (
        lambda r: ["annotate", save(_with(clips(), 2, meta={"injected_defects": "lots"}), r / "m.pt")], "(1 invalid)"),
    "annotate: description with a lone surrogate": (
        lambda r: ["annotate", save(_with(clips(), 0, description="walk \udc80"), r / "u.pt")], "(1 invalid)"),
    "curate: fps as text": (lambda r: ["curate", "--inputs", save(_with(clips(), 1, fps="fast"), r / "f.pt"),
                                       "--output-dir", "out"], "invalid_sample         1"),
    "critic: --index counts positions in the file": (
        lambda r: ["critic", save(_with(_nan_motion(4, 1), 2, description="the third one"), r / "p.pt"), "--index", "2"],
        "[2] "),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    write_report(RESULTS)  # merged with the other hostile-input modules' cases (test_hostile_surfaces)


def _case_dirs(tmp_path: Path) -> tuple[Path, Path]:
    work, victim = tmp_path / "work", tmp_path / "victim"
    work.mkdir()
    save(clips(2), victim / "precious.pt")
    return work, victim


def _outside_changes(before: dict, after: dict) -> list[str]:
    allowed = ("out/", ".stickgen-cache/")
    return [k for k in after if before.get(k) != after[k] and not any(a in k for a in allowed)
            and not k.startswith("work/out")]


def _classify(name: str, out, expect_code: int) -> str:
    if out.code < 0:
        RESULTS[name] = "signal"
    elif "Traceback" in out.stderr:
        RESULTS[name] = "traceback"
    elif out.code == 0 and expect_code != 0:
        RESULTS[name] = "silent acceptance"
    elif out.code == expect_code == 0:
        RESULTS[name] = "accepted"
    elif out.code == 2 and len(out.error_lines) == 1:
        RESULTS[name] = "clear error"
    else:
        RESULTS[name] = "unclear error"
    return RESULTS[name]


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gives_one_clear_line(name, tmp_path, shared):
    build, needles, *more = CASES[name]
    env, file_cap = (more + [{}, 0][len(more):])[:2]
    work, victim = _case_dirs(tmp_path)
    argv = build(work, shared)
    before = snapshot(tmp_path)
    out = run_cli(argv, work, env=env, file_cap=file_cap)
    kind = _classify(name, out, 2)
    assert out.code >= 0, f"killed by signal {-out.code}"
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert out.code == 2, f"exit {out.code} ({kind}); stderr: {out.stderr[-2000:]}"
    assert len(out.error_lines) == 1, out.stderr
    line = out.error_lines[0]
    assert len(line) < 700
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line}"
    assert not _outside_changes(before, snapshot(tmp_path)), _outside_changes(before, snapshot(tmp_path))
    assert snapshot(victim) == {k[len("victim/"):]: v for k, v in before.items() if k.startswith("victim/")}
    if name == "train: full disk":  # the run's status must say what happened, not stay at 'running'
        status = json.loads((work / "out" / "run" / "status.json").read_text())
        assert status["state"] == "failed" and "cannot write" in status["error"]


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_odd_but_harmless_input_is_accepted(name, tmp_path):
    build, text = ACCEPTED[name]
    work, _ = _case_dirs(tmp_path)
    out = run_cli(build(work), work)
    _classify(name, out, 0)
    assert out.code == 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
    assert text in out.stdout, out.stdout
    if name.startswith("critic"):
        assert "the third one" in out.stdout  # the clip at position 2, not the third valid one
