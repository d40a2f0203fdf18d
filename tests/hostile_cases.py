"""Hostile and broken input files for tests/test_hostile_inputs.py, built in a temp folder.

Each builder writes what it needs under ``root`` and returns the paths; nothing large is
kept in the repository. ``run_cli`` runs one ``stickgen`` command in a subprocess under an
address-space cap, so a file that would take the machine down fails the test instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from stickgen_core.io import atomic_torch_save
from stickgen_core.synth import SynthConfig, generate_dataset

MEMORY_CAP = 3 << 30  # bytes of address space each CLI run may use (torch itself needs about 1.2 GiB)
EMB = 16
TINY = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64, "dropout": 0.0},
        "training": {"epochs": 1, "batch_size": 4, "max_frames": 32, "warmup_steps": 1, "log_interval": 1,
                     "val_fraction": 0.25, "seed": 1, "device": "cpu"},
        "embedding": {"model": "none"}}

WRAPPER = """
import os, resource, signal, sys
cap = int(os.environ["HOSTILE_MEMORY_CAP"])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
fsize = int(os.environ.get("HOSTILE_FILE_CAP", "0"))
if fsize:  # a 'full disk': writes past this size fail with EFBIG instead of a signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
from stickgen_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, file_cap: int = 0,
            timeout: float = 600) -> Outcome:
    full_env = dict(os.environ, HOSTILE_MEMORY_CAP=str(MEMORY_CAP), HOSTILE_FILE_CAP=str(file_cap),
                    HF_HUB_OFFLINE="1", **(env or {}))
    # HOSTILE_CODE_ROOT runs the commands of another checkout (to count what a baseline did)
    full_env["PYTHONPATH"] = os.environ.get("HOSTILE_CODE_ROOT") or str(Path(__file__).resolve().parent.parent)
    p = subprocess.run([sys.executable, "-c", WRAPPER, *map(str, args)], cwd=cwd, env=full_env,
                       capture_output=True, text=True, timeout=timeout)
    return Outcome(p.returncode, p.stdout, p.stderr)


KINDS = ("clear error", "accepted", "traceback", "silent acceptance", "unclear error", "signal", "too slow",
         "wrongly refused")


def write_report(results: dict[str, str]) -> dict[str, int]:
    """Print the tally of ``results`` (case -> kind) and, with HOSTILE_REPORT=path, merge them into that
    JSON file: every hostile-input module adds its cases, the counts cover them all, and ``surfaces``
    counts each surface (the case name before ':') apart."""
    counts = {k: sum(v == k for v in results.values()) for k in KINDS}
    counts["cases"] = len(results)
    print("\nhostile-input cases:", json.dumps(counts))
    if os.environ.get("HOSTILE_REPORT"):
        path = Path(os.environ["HOSTILE_REPORT"])
        cases = json.loads(path.read_text()).get("cases", {}) if path.is_file() else {}
        cases.update(results)
        total = {k: sum(v == k for v in cases.values()) for k in KINDS}
        total["cases"] = len(cases)
        surfaces: dict[str, dict[str, int]] = {}
        for name, kind in cases.items():
            tally = surfaces.setdefault(name.split(":", 1)[0], {})
            tally[kind] = tally.get(kind, 0) + 1
        path.write_text(json.dumps({"counts": total, "surfaces": surfaces, "cases": cases}, indent=2))
    return counts


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


# --------------------------------------------------------------------------- data
def clips(n: int = 6, seed: int = 0) -> list[dict]:
    return generate_dataset(n, seed=seed, config=SynthConfig(multi_actor_rate=0.0, min_seconds=2, max_seconds=3))


def embedded(n: int = 8, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = clips(n, seed)
    for s in out:
        s["embedding"] = torch.randn(EMB, generator=g)
    return out


def save(obj, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tiny_config(root: Path, **changes) -> Path:
    cfg = json.loads(json.dumps(TINY))
    for section, values in changes.items():
        cfg.setdefault(section, {}).update(values)
    return write(root / "tiny.yaml", json.dumps(cfg))  # JSON is YAML


def checkpoint(root: Path, name: str = "good.pth", **changes) -> Path:
    """A real (tiny) checkpoint: one epoch of training on 8 clips, then ``changes`` applied."""
    src = root / "_base_ckpt" / "checkpoints" / "model_checkpoint_latest.pth"
    if not src.exists():
        from stickgen_core.config import load_config, resolve_sources
        from stickgen_core.train import train

        data = save(embedded(), root / "_base_ckpt_data.pt")
        cfg = load_config(tiny_config(root / "_cfg"))
        train(cfg, resolve_sources(cfg, str(data), env={}), root / "_base_ckpt")
    ck = torch.load(src, weights_only=True)
    for k, v in changes.items():
        if callable(v):
            v(ck)
        else:
            ck[k] = v
    atomic_torch_save(ck, root / name)
    return root / name


def nan_weights(ck: dict) -> None:
    name = next(iter(ck["model_state_dict"]))
    ck["model_state_dict"][name] = torch.full_like(ck["model_state_dict"][name], float("nan"))


def wrong_shape(ck: dict) -> None:
    name = next(k for k, v in ck["model_state_dict"].items() if v.dim() == 2)
    ck["model_state_dict"][name] = torch.zeros(3, 3)


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def bomb_config(root: Path) -> Path:
    return write(root / "bomb.yaml", alias_bomb() + "training:\n  learning_rate: *a8\n")


def tensor_bomb(path: Path, n_floats: int = 8 << 20) -> Path:
    """A torch file whose tensor is stored deflated: small on disk, ``4 * n_floats`` bytes unpacked."""
    plain = path.with_suffix(".plain")
    torch.save([{"description": "x", "motion": torch.zeros(n_floats // 48, 48)}], plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    plain.unlink()
    return path


def suites(root: Path, suite: str = "basic", pid: str = "walk", text: str = '"a person walks"') -> Path:
    return write(root / "suites.yaml",
                 f"version: 1\nsuites:\n  {suite}:\n    description: d\n    prompts:\n"
                 f"      - id: {pid}\n        text: {text}\n        seconds: 2\n")
