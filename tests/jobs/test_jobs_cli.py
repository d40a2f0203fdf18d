"""``stickgen jobs``: launch, list, stop, resume, sft-from and logs, for a person and with --json."""

import json
from pathlib import Path

import yaml

from stickgen_core.cli import main
from stickgen_core.jobs import find_run

from .conftest import TINY
from .helpers import wait_for

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def jobs(capsys, *argv):
    code = main(["jobs", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_lifecycle(tmp_path, tiny_data, capsys):
    ws = str(tmp_path / "ws")
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump({"extends": str(REPO_CONFIGS / "small.yaml"), **TINY}))
    (tmp_path / "sft_tiny.yaml").write_text(yaml.safe_dump({"extends": "tiny.yaml", "training": {"stage": "sft"}}))
    code, out, _ = jobs(capsys, "launch", "--workspace", ws, "--config", str(tiny), "--data_path", str(tiny_data),
                        "--run-name", "c1", "--epochs", "400", "--batch_size", "4", "--nice", "15",
                        "--loss-weight", "pose=2", "--json")
    assert code == 0
    row = json.loads(out)
    assert row["run_id"] == "c1" and row["stage"] == "pretrain" and row["state"] == "running"
    run = find_run(ws, "c1")
    assert run.spec.loss_weights == {"pose": 2.0}
    wait_for(lambda: run.checkpoint("best"), "a best checkpoint")

    code, out, _ = jobs(capsys, "list", "--workspace", ws, "--json")
    assert [(r["run_id"], r["state"]) for r in json.loads(out)] == [("c1", "running")]
    code, out, _ = jobs(capsys, "list", "--workspace", ws)
    assert "c1" in out and "running" in out and out.splitlines()[0].startswith("run")

    code, out, _ = jobs(capsys, "stop", "c1", "--workspace", ws)
    assert code == 0 and out.startswith("stop c1: stopped")
    code, out, _ = jobs(capsys, "resume", "c1", "--workspace", ws)
    assert out.startswith("resumed c1: running")
    wait_for(lambda: run.status().get("phase") is None and run.status()["state"] == "running", "the resumed trainer")
    jobs(capsys, "stop", "c1", "--workspace", ws)

    code, out, _ = jobs(capsys, "sft-from", "c1", "--workspace", ws, "--data_path", str(tiny_data), "--json")
    row = json.loads(out)
    assert row["run_id"] == "c1-sft" and row["stage"] == "sft"
    sft = find_run(ws, "c1-sft")
    assert sft.spec.init_from == str(run.checkpoint("best")) and sft.spec.config.endswith("sft_tiny.yaml")
    code, out, _ = jobs(capsys, "stop", "c1-sft", "--workspace", ws, "--json")
    assert json.loads(out)["state"] == "stopped"

    code, out, _ = jobs(capsys, "logs", "c1", "--workspace", ws, "-n", "3")
    assert len(out.splitlines()) == 3 and "stickgen_core" in out


def test_cli_errors_are_one_line(tmp_path, tiny_data, capsys):
    code, _, err = jobs(capsys, "stop", "nope", "--workspace", str(tmp_path))
    assert code == 2 and err.startswith("error: no run 'nope'") and len(err.splitlines()) == 1
    code, _, err = jobs(capsys, "launch", "--workspace", str(tmp_path), "--config", "small",
                        "--data_path", str(tmp_path / "missing.pt"))
    assert code == 2 and "job.data: no such file" in err
    code, _, err = jobs(capsys, "launch", "--workspace", str(tmp_path), "--config", "small",
                        "--data_path", str(tiny_data), "--loss-weight", "pose")
    assert code == 2 and "--loss-weight: expected NAME=NUMBER" in err
