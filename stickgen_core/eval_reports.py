"""Reading adversarial evaluation reports: validation, prompt tables, filters, comparisons, exports.

``evaluation`` writes reports; this module is what a viewer (the studio's Evaluate page, a
notebook, a script) needs to read them: every check names the file and the key that is
wrong, so a malformed report is a one-line error, never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ReportError
from .evaluation import RATINGS, REPORT_FILE, rate
from .io import atomic_write_text
from .limits import read_json_file

#: keys every per-prompt result carries, with the type each must have
RESULT_KEYS: dict[str, type | tuple[type, ...]] = {
    "suite": str, "id": str, "text": str, "seconds": (int, float), "is_safe": bool,
    "overall_score": (int, float), "issues": list}
ISSUE_KEYS = ("type", "severity", "description")
#: per-prompt comparison outcomes, in the order a reviewer reads them (regressions first)
CHANGES = ("turned unsafe", "still unsafe", "turned safe", "still safe", "only in A", "only in B")


def load_report(path: str | Path) -> dict[str, Any]:
    """A report as written by ``run_adversarial_eval``; a ReportError names what is wrong."""
    p = Path(path)
    doc = read_json_file(p, "a report (JSON)", ReportError)  # bounded, depth-checked, special files refused
    if not isinstance(doc, dict):
        raise ReportError(f"{p}: expected a JSON object with 'results', 'suites' and 'overall', got {type(doc).__name__}")
    for key, kind in (("results", list), ("suites", dict), ("overall", dict)):
        if not isinstance(doc.get(key), kind):
            raise ReportError(f"{p}: {key}: expected a {kind.__name__}, got {type(doc.get(key)).__name__ if key in doc else 'nothing'}")
    for i, r in enumerate(doc["results"]):
        if not isinstance(r, dict):
            raise ReportError(f"{p}: results[{i}]: expected an object, got {type(r).__name__}")
        for key, kind in RESULT_KEYS.items():
            if key not in r:
                raise ReportError(f"{p}: results[{i}].{key}: missing")
            if not isinstance(r[key], kind) or (kind != bool and isinstance(r[key], bool)):
                raise ReportError(f"{p}: results[{i}].{key}: expected {_kind_name(kind)}, got {r[key]!r}")
        for j, issue in enumerate(r["issues"]):
            missing = [k for k in ISSUE_KEYS if not isinstance(issue, dict) or k not in issue]
            if missing:
                raise ReportError(f"{p}: results[{i}].issues[{j}]: missing {', '.join(missing)}")
    for key in RATINGS:
        v = doc["overall"].get(key)
        if v is not None and not isinstance(v, (int, float)):
            raise ReportError(f"{p}: overall.{key}: expected a number or null, got {v!r}")
    doc["_path"] = str(p)
    return doc


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return "a number" if kind == (int, float) else {str: "a string", bool: "true or false", list: "a list"}[kind]


_CREATED = re.compile(rb'"created"\s*:\s*"([^"]+)"')


def report_time(path: Path) -> float:
    """When a report says it was made (its ``created``, near the top of the file), else when its file was
    last written: a copied workspace gets new file times in copy order, which made the older report "B"."""
    try:
        with open(path, "rb") as fh:
            found = _CREATED.search(fh.read(16_384))
        if found:
            return _dt.datetime.fromisoformat(found.group(1).decode()).timestamp()
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    return path.stat().st_mtime


def list_reports(folder: str | Path) -> list[Path]:
    """Every ``adversarial_report.json`` under ``folder``, newest first (by ``report_time``)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(root.rglob(REPORT_FILE), key=lambda f: (report_time(f), f.stat().st_mtime), reverse=True)


def find_checkpoints(runs_dir: str | Path) -> list[Path]:
    """Checkpoints of the training runs under ``runs_dir`` (``*/checkpoints/*.pth``), newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return sorted(root.glob("*/checkpoints/*.pth"), key=lambda f: f.stat().st_mtime, reverse=True)


def rating(metric: str, value: float | None) -> str | None:
    """Good / Acceptable / Poor of a summary metric (the spec's table 7.5)."""
    return rate(metric, value)


def motion_file(report: dict[str, Any], result: dict[str, Any]) -> Path:
    """The saved motion of a result: its recorded path, or where the runner saves it beside the
    report (``motions/<suite>/<id>.pt``) when the report was moved or written with a relative path."""
    recorded = Path(str(result.get("motion_path", "")))
    if result.get("motion_path") and recorded.is_file():
        return recorded
    folder = Path(report.get("_path", ".")).parent
    return folder / "motions" / result["suite"] / f"{result['id']}.pt"


def results_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per prompt: suite, id, text, seconds, is_safe, score, issue types, position in the report."""
    rows = [{"suite": r["suite"], "id": r["id"], "text": r["text"], "seconds": float(r["seconds"]),
             "is_safe": bool(r["is_safe"]), "overall_score": float(r["overall_score"]),
             "issue_types": ", ".join(dict.fromkeys(str(i["type"]) for i in r["issues"])), "result": k}
            for k, r in enumerate(report["results"])]
    return pd.DataFrame(rows, columns=["suite", "id", "text", "seconds", "is_safe", "overall_score",
                                       "issue_types", "result"])


def issue_types(report: dict[str, Any]) -> list[str]:
    """The distinct issue types of a report, sorted."""
    return sorted({str(i["type"]) for r in report["results"] for i in r["issues"]})


def filter_results(table: pd.DataFrame, suite: str = "", safe: bool | None = None, issue_type: str = "",
                   search: str = "") -> pd.DataFrame:
    """Rows of ``results_table`` in ``suite``, with ``is_safe == safe``, holding ``issue_type``,
    whose id or text contains ``search`` (case-insensitive); empty arguments do not filter."""
    keep = pd.Series(True, index=table.index)
    if suite:
        keep &= table["suite"] == suite
    if safe is not None:
        keep &= table["is_safe"] == safe
    if issue_type:
        keep &= table["issue_types"].str.split(", ").apply(lambda kinds: issue_type in kinds)
    if search:
        s = search.lower()
        keep &= table["text"].str.lower().str.contains(s, regex=False) | table["id"].str.lower().str.contains(s, regex=False)
    return table[keep]


def suite_table(report: dict[str, Any]) -> pd.DataFrame:
    """Per-suite prompts, safe count, safe ratio, mean score and whether degradation is expected."""
    rows = [{"suite": name, "prompts": int(s["prompts"]), "safe": int(s["safe"]), "safe_ratio": float(s["safe_ratio"]),
             "mean_score": float(s.get("mean_score", float("nan"))), "adversarial": bool(s.get("adversarial")),
             "expect_degradation": bool(s.get("expect_degradation"))} for name, s in report["suites"].items()]
    return pd.DataFrame(rows, columns=["suite", "prompts", "safe", "safe_ratio", "mean_score", "adversarial",
                                       "expect_degradation"])


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-suite safe ratios of A and B and their delta, per-prompt outcomes): prompts that
    turned unsafe from A to B come first, then the rest in ``CHANGES`` order, largest score drop first."""
    sa, sb = suite_table(a).set_index("suite"), suite_table(b).set_index("suite")
    suites = pd.DataFrame({"safe_ratio_a": sa["safe_ratio"], "safe_ratio_b": sb["safe_ratio"]})
    suites["delta"] = suites["safe_ratio_b"] - suites["safe_ratio_a"]
    suites["expect_degradation"] = sa["expect_degradation"].combine_first(sb["expect_degradation"]).astype(bool)
    suites = suites.reset_index().rename(columns={"index": "suite"})
    ta, tb = results_table(a), results_table(b)
    m = ta.merge(tb, on=["suite", "id"], how="outer", suffixes=("_a", "_b"), indicator=True)
    safe_a, safe_b = m["is_safe_a"].astype("boolean"), m["is_safe_b"].astype("boolean")
    change = pd.Series("still safe", index=m.index)
    change[safe_a & ~safe_b] = "turned unsafe"
    change[~safe_a & ~safe_b] = "still unsafe"
    change[~safe_a & safe_b] = "turned safe"
    change[m["_merge"] == "left_only"] = "only in A"
    change[m["_merge"] == "right_only"] = "only in B"
    m["change"] = pd.Categorical(change, categories=CHANGES, ordered=True)
    m["text"] = m["text_a"].fillna(m["text_b"])
    m["score_delta"] = m["overall_score_b"] - m["overall_score_a"]
    m = m.sort_values(["change", "score_delta", "suite", "id"], na_position="last", kind="stable")
    cols = ["suite", "id", "text", "change", "is_safe_a", "is_safe_b", "overall_score_a", "overall_score_b",
            "score_delta", "issue_types_a", "issue_types_b", "result_a", "result_b"]
    return suites, m[cols].reset_index(drop=True)


def save_results_csv(report: dict[str, Any], path: str | Path, table: pd.DataFrame | None = None) -> Path:
    """The prompt table (or the given filtered view of it) as CSV, written atomically."""
    t = results_table(report) if table is None else table
    atomic_write_text(path, t.drop(columns=["result"], errors="ignore").to_csv(index=False))
    return Path(path)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def report_markdown(report: dict[str, Any]) -> str:
    """A Markdown summary: overall ratios with ratings, the per-suite table, the unsafe prompts."""
    o = report["overall"]
    lines = [f"# Adversarial evaluation: {Path(str(report.get('checkpoint', '?'))).name}", "",
             f"- checkpoint: `{report.get('checkpoint', '?')}`", f"- created: {report.get('created', '?')}",
             f"- prompts: {len(report['results'])}, safe: {sum(r['is_safe'] for r in report['results'])}", "",
             "| metric | value | rating (table 7.5) |", "|---|---|---|"]
    for key, label in (("baseline_safe_ratio", "baseline safe ratio"), ("adversarial_safe_ratio", "adversarial safe ratio"),
                       ("robustness_gap", "robustness gap")):
        lines.append(f"| {label} | {_pct(o.get(key))} | {rating(key, o.get(key)) or 'n/a'} |")
    lines += ["", "| suite | safe / prompts | safe ratio | mean score | degradation expected |", "|---|---|---|---|---|"]
    for _, s in suite_table(report).iterrows():
        lines.append(f"| {s['suite']} | {s['safe']} / {s['prompts']} | {s['safe_ratio']:.1%} | {s['mean_score']:.2f} | "
                     f"{'yes' if s['expect_degradation'] else 'no'} |")
    unsafe = [r for r in report["results"] if not r["is_safe"]]
    lines += ["", f"## Unsafe prompts ({len(unsafe)})", ""]
    for r in unsafe:
        kinds = ", ".join(dict.fromkeys(str(i["type"]) for i in r["issues"])) or "no issue recorded"
        lines.append(f"- **{r['suite']} / {r['id']}** (score {r['overall_score']:.2f}; {kinds}): {r['text'][:160]}")
    return "\n".join(lines) + "\n"


def save_markdown(report: dict[str, Any], path: str | Path) -> Path:
    atomic_write_text(path, report_markdown(report))
    return Path(path)
