"""Reading adversarial reports: clear errors, filters, comparisons and exports a viewer relies on."""

import json
import os

import pytest

from stickgen_core.errors import ReportError
from stickgen_core.eval_reports import (compare_reports, filter_results, find_checkpoints, list_reports, load_report,
                                        report_markdown, results_table)
from stickgen_core.evaluation import REPORT_FILE, load_suites, summarise


def result(suite, pid, safe, kinds=()):
    return {"suite": suite, "id": pid, "text": f"prompt {pid}", "seconds": 2.0, "is_safe": safe,
            "overall_score": 1.0 if safe else 0.1,
            "issues": [{"type": k, "severity": 0.9, "description": k, "frame_range": [[0, 5]]} for k in kinds]}


def make_report(results):
    return {"checkpoint": "ck.pth", "results": results, **summarise(results, load_suites())}


@pytest.fixture
def report():
    return make_report([result("robustness_baseline", "b1", True), result("robustness_baseline", "b2", False, ["frozen"]),
                        result("adversarial_injection", "i1", False, ["velocity", "frozen"]),
                        result("adversarial_injection", "i2", True)])


def write(tmp_path, doc, name="r"):
    p = tmp_path / name / REPORT_FILE
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: "{oops", "not a JSON file"),
    (lambda d: [], "expected a JSON object"),
    (lambda d: (d.pop("results"), d)[1], "results: expected a list, got nothing"),
    (lambda d: (d["results"][1].pop("is_safe"), d)[1], r"results\[1\].is_safe: missing"),
    (lambda d: d["results"][0].update(is_safe="yes") or d, r"results\[0\].is_safe: expected true or false"),
    (lambda d: (d["results"][2]["issues"][0].pop("type"), d)[1], r"results\[2\].issues\[0\]: missing type"),
    (lambda d: d["overall"].update(robustness_gap="big") or d, "overall.robustness_gap: expected a number"),
])
def test_malformed_reports_name_file_and_key(tmp_path, report, mutate, needle):
    p = write(tmp_path, mutate(json.loads(json.dumps(report))))
    with pytest.raises(ReportError, match=needle) as exc:
        load_report(p)
    assert str(p) in str(exc.value)


def test_filters(report):
    t = results_table(report)
    assert list(filter_results(t, safe=False)["id"]) == ["b2", "i1"]
    assert list(filter_results(t, issue_type="velocity")["id"]) == ["i1"]
    assert list(filter_results(t, suite="adversarial_injection", safe=True)["id"]) == ["i2"]
    assert list(filter_results(t, search="PROMPT B")["id"]) == ["b1", "b2"]


def test_compare_lists_turned_unsafe_first(report):
    b = json.loads(json.dumps(report))
    b["results"][3] = result("adversarial_injection", "i2", False, ["jittery"])
    b["results"][1] = result("robustness_baseline", "b2", True)
    b.update(summarise(b["results"], load_suites()))
    suites, prompts = compare_reports(report, b)
    assert list(prompts["id"]) == ["i2", "i1", "b2", "b1"]
    assert list(prompts["change"]) == ["turned unsafe", "still unsafe", "turned safe", "still safe"]
    assert dict(zip(suites["suite"], suites["delta"])) == {"robustness_baseline": 0.5, "adversarial_injection": -0.5}


def test_reports_are_ordered_by_when_they_were_made_not_when_their_files_were_copied(tmp_path, report):
    older = write(tmp_path, {**report, "created": "2026-01-05T10:00:00+00:00"}, "older")
    newer = write(tmp_path, {**report, "created": "2026-02-05T10:00:00+01:00"}, "newer")
    os.utime(newer, (1, 1))   # a copy made the newer report's file look oldest
    assert list_reports(tmp_path) == [newer, older]


def test_lists_are_newest_first(tmp_path, report):
    old, new = write(tmp_path, report, "old"), write(tmp_path, report, "new")
    os.utime(old, (1, 1))
    assert list_reports(tmp_path) == [new, old]
    for run, t in (("a", 1), ("b", 2)):
        ck = tmp_path / "runs" / run / "checkpoints" / "model_checkpoint_best.pth"
        ck.parent.mkdir(parents=True)
        ck.write_bytes(b"x")
        os.utime(ck, (t, t))
    assert [p.parent.parent.name for p in find_checkpoints(tmp_path / "runs")] == ["b", "a"]


def test_markdown_summary(report):
    md = report_markdown(report)
    assert "| baseline safe ratio | 50.0% | Poor |" in md and "| robustness gap | 0.0% | Good |" in md
    assert "**robustness_baseline / b2**" in md and "**adversarial_injection / i1**" in md and "b1**" not in md
