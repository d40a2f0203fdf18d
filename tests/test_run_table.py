"""The runs table's rows (stickgen_core.run_table): config values and final metrics read from run folders."""

from __future__ import annotations

import json

import yaml

from stickgen_core.jobs import JobSpec, Run
from stickgen_core.run_table import COLUMNS, MetricTotals, runs_table, table_row


def write_json(path, data):
    path.write_text(json.dumps(data))


def read_json(path):
    return json.loads(path.read_text())


def _run(ws, run_id, *, trained=True, rows=(), created="2026-01-01T00:00:00+00:00"):
    root = ws / "runs" / run_id
    root.mkdir(parents=True)
    spec = JobSpec(stage="pretrain", config="small", data="data.pt")
    info = {"run_id": run_id, "job": spec.to_dict(), "run_created": created}
    if trained:   # what the trainer adds to run.json once training starts
        info.update(config={"training": {"epochs": 7, "learning_rate": 2e-4, "batch_size": 8, "grad_accum_steps": 2},
                            "model": {"d_model": 64, "n_layers": 3}},
                    parameters={"total": 123_456, "trainable": 123_456}, batch={"per_gpu": 8, "total": 32})
    write_json(root / "run.json", info)
    (root / "config.yaml").write_text(yaml.safe_dump({"training": {"epochs": 5, "learning_rate": 1e-3,
                                                                   "batch_size": 4, "grad_accum_steps": 3},
                                                      "model": {"d_model": 32, "n_layers": 2}}))
    write_json(root / "status.json", {"state": "completed", "epoch": 1, "global_step": 4})
    (root / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return Run(root)


ROWS = [{"type": "step", "epoch": 0, "step": 1, "train_total": 9.0},
        {"type": "epoch", "epoch": 0, "step": 2, "train_loss": 4.0, "val_total": 3.0},
        {"type": "step", "epoch": 1, "step": 3, "train_total": 8.0},
        {"type": "epoch", "epoch": 1, "step": 4, "train_loss": 2.5, "val_total": 3.5},
        {"type": "epoch", "epoch": 2, "step": 6, "train_loss": 2.0, "val_total": float("nan")}]


def test_rows_carry_config_values_and_final_metrics(tmp_path):
    _run(tmp_path, "a", rows=ROWS)
    _run(tmp_path, "b", trained=False, rows=ROWS[:1], created="2026-01-02T00:00:00+00:00")
    a, b = runs_table(tmp_path)
    assert list(a) == [k for k, _ in COLUMNS]
    # the trainer's record wins: its batch per optimizer step (processes x accumulation) and parameter count
    assert (a["stage"], a["backend"], a["state"], a["epochs"], a["lr"], a["batch"]) == \
        ("pretrain", "local", "completed", 7, 2e-4, 32)
    assert a["model"] == "small · 64×3" and a["params"] == 123_456
    assert a["best_val_loss"] == 3.0 and a["final_train_loss"] == 2.0   # a NaN val is no best; the last epoch's train
    # not trained yet: the job's config.yaml (batch 4 x accumulation 3), the last logged step's loss, no val
    assert (b["epochs"], b["lr"], b["batch"], b["model"], b["params"]) == (5, 1e-3, 12, "small · 32×2", None)
    assert b["best_val_loss"] is None and b["final_train_loss"] == 9.0


def test_totals_fold_incrementally_like_the_whole_file():
    whole, parts = MetricTotals(), MetricTotals()
    whole.add(ROWS)
    for r in ROWS:
        parts.add([r])
    assert whole == parts and (whole.best_val_loss, whole.best_epoch) == (3.0, 0)
    # a step row after an epoch ended does not replace the epoch's mean loss
    parts.add([{"type": "step", "epoch": 3, "step": 7, "train_total": 100.0}])
    assert parts.final_train_loss == 2.0
    # an equal val loss later is not a new best (the first stays, as the trainer's best checkpoint)
    parts.add([{"type": "epoch", "epoch": 3, "step": 8, "train_loss": 1.0, "val_total": 3.0}])
    assert parts.best_epoch == 0 and parts.final_train_loss == 1.0


def test_damaged_and_bad_values_read_as_unknown(tmp_path):
    run = _run(tmp_path, "a", rows=ROWS)
    info = run.info()
    info["config"]["training"].update(learning_rate="fast", epochs=True)
    info["parameters"] = {"total": "many"}
    write_json(run.root / "run.json", info)
    row = runs_table(tmp_path)[0]
    assert (row["lr"], row["epochs"], row["params"]) == (None, None, None)
    (run.root / "status.json").write_text("{not json")
    row = runs_table(tmp_path)[0]
    assert row["state"] == "damaged" and row["lr"] is None and row["run_id"] == "a"
    assert table_row(run, run.summary(), MetricTotals())["best_val_loss"] is None
