"""A run's metrics as growing numpy columns, appended incrementally as metrics.jsonl grows.

Parsing (pandas, in the Train page's poller thread, or a script's) turns new rows into column
arrays; a view only appends them and updates the smoothed copies of the curves it shows (EMA over
the new points). ``DrawnRows`` says what is new since the last draw, ``IncreasingCheck`` whether a
growing column is still sorted (checked over the new rows only). No Qt: the studio's live plots
render these, and they are tested without a window.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

LOSS_TERMS = ("total", "pose", "temporal", "action", "physics", "diffusion")
X_MODES = ("step", "epoch", "time")
Columns = dict[str, np.ndarray]


def parse_rows(rows: list[dict[str, Any]]) -> tuple[Columns, Columns]:
    """(step columns, epoch columns) of metrics rows; ``t`` is the row's wall time in seconds."""
    if not rows:
        return {}, {}
    df = pd.DataFrame.from_records(rows)
    out = []
    for kind in ("step", "epoch"):
        sub = df[df["type"] == kind] if "type" in df else df.iloc[:0]
        cols: Columns = {}
        if len(sub):
            if "time" in sub:
                t = pd.to_datetime(sub["time"], utc=True, errors="coerce")  # the unit (ns, us) depends on pandas
                cols["t"] = (t - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)
            for name in sub.columns:
                if name in ("type", "time"):
                    continue
                values = pd.to_numeric(sub[name], errors="coerce")
                if values.notna().any():
                    cols[name] = values.to_numpy(dtype=float)
        out.append(cols)
    return out[0], out[1]


class Table:
    """Columns of equal length that grow by doubling (appends are amortised O(new rows))."""

    def __init__(self) -> None:
        self.n = 0
        self._cols: dict[str, np.ndarray] = {}

    def append(self, cols: Columns) -> None:
        k = len(next(iter(cols.values()))) if cols else 0
        if not k:
            return
        need = self.n + k
        for name in set(cols) | set(self._cols):
            buf = self._cols.get(name)
            if buf is None:
                buf = np.full(max(need, 64), np.nan)
            elif len(buf) < need:
                grown = np.full(max(need, 2 * len(buf)), np.nan)
                grown[: self.n] = buf[: self.n]
                buf = grown
            buf[self.n: need] = cols.get(name, np.nan)
            self._cols[name] = buf
        self.n = need

    def __getitem__(self, name: str) -> np.ndarray:
        buf = self._cols.get(name)
        return buf[: self.n] if buf is not None else np.full(self.n, np.nan)

    def __contains__(self, name: str) -> bool:
        return name in self._cols

    def names(self) -> list[str]:
        return list(self._cols)


def ema_debiased(values: np.ndarray, weight: float, state: tuple[float, int] = (0.0, 0)) -> tuple[np.ndarray, tuple[float, int]]:
    """TensorBoard's smoothing: EMA with weight ``weight``, divided by 1 - weight^n so the first points
    are not pulled towards 0. ``state`` (last raw EMA, finite points seen) continues a previous call;
    non-finite values are skipped (the curve keeps its previous value there)."""
    if weight <= 0 or not len(values):
        return values.copy(), state
    last, seen = state
    finite = np.isfinite(values)
    idx = np.flatnonzero(finite)
    if not len(idx):
        return np.full(len(values), np.nan), state
    from scipy.signal import lfilter  # here: scipy.signal costs ~1.3 s at import, before the window shows

    raw = np.full(len(values), np.nan)
    raw[idx] = lfilter([1 - weight], [1, -weight], values[idx], zi=[weight * last])[0]
    counts = seen + np.cumsum(finite)
    out = raw / (1.0 - weight ** np.maximum(counts, 1))
    if len(idx) < len(values):
        out = pd.Series(out).ffill().to_numpy()
    return out, (float(raw[idx[-1]]), int(counts[-1]))


class RunSeries:
    """Everything plotted for one run; ``add`` takes parse_rows' output."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.steps = Table()
        self.epochs = Table()
        self._smooth: dict[tuple[str, float], tuple[np.ndarray, int, tuple[float, int]]] = {}

    def add(self, step_cols: Columns, epoch_cols: Columns) -> None:
        self.steps.append(step_cols)
        self.epochs.append(epoch_cols)

    def steps_per_epoch(self) -> float | None:
        if not self.epochs.n:
            return None
        e, s = self.epochs["epoch"][-1], self.epochs["step"][-1]
        return float(s / (e + 1)) if e >= 0 and s > 0 else None

    def t0(self) -> float:
        firsts = [tab["t"][0] for tab in (self.steps, self.epochs) if tab.n and "t" in tab]
        return min(firsts) if firsts else 0.0

    def x(self, table: str, mode: str) -> np.ndarray:
        """x of every row of ``table`` ('steps' or 'epochs') for an x-axis mode."""
        tab = self.steps if table == "steps" else self.epochs
        if mode == "time":
            return (tab["t"] - self.t0()) / 60.0
        if mode == "epoch":
            if table == "epochs":
                return tab["epoch"] + 1.0  # a val point sits at the end of its epoch
            spe = self.steps_per_epoch()
            return tab["step"] / spe if spe else tab["epoch"]
        return tab["step"]

    def smoothed(self, key: str, weight: float) -> np.ndarray:
        """EMA of a step column, updated over the rows added since the last call."""
        values = self.steps[key]
        if weight <= 0:
            return values
        buf, done, state = self._smooth.get((key, weight), (np.empty(0), 0, (0.0, 0)))
        if done < len(values):
            new, state = ema_debiased(values[done:], weight, state)
            if len(buf) < len(values):      # grown by doubling: a tick copies its new rows only
                buf = np.concatenate([buf[:done], np.empty(max(len(values), 2 * len(buf)) - done)])
            buf[done: len(values)] = new
            self._smooth = {k: v for k, v in self._smooth.items() if k[0] != key or k[1] == weight}
            self._smooth[(key, weight)] = (buf, len(values), state)
        return buf[: len(values)]

    def best(self) -> tuple[int, float] | None:
        """(row index in epochs, val loss) of the best epoch: lowest val total (train loss without val)."""
        key = "val_total" if "val_total" in self.epochs else "train_loss"
        vals = self.epochs[key]
        if not np.isfinite(vals).any():
            return None
        i = int(np.nanargmin(vals))
        return i, float(vals[i])

    def frame(self) -> pd.DataFrame:
        """Every row as one table (for CSV export)."""
        parts = []
        for kind, tab in (("step", self.steps), ("epoch", self.epochs)):
            if tab.n:
                parts.append(pd.DataFrame({"run": self.run_id, "type": kind, **{n: tab[n] for n in tab.names()}}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


class DrawnRows:
    """How many step and epoch rows of each run a view has drawn: a poll redraws only the runs, and
    the tables of a run, that grew since."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, int]] = {}

    def news(self, run_id: str, series: RunSeries) -> tuple[bool, bool]:
        """(steps grew, epochs grew) since ``mark``; both for a run not drawn yet."""
        seen = self._rows.get(run_id)
        if seen is None:
            return True, True
        return series.steps.n != seen[0], series.epochs.n != seen[1]

    def grown(self, run_ids: list[str], series: dict[str, RunSeries]) -> list[str]:
        """The runs of ``run_ids`` with rows not drawn yet (an epoch-only poll counts)."""
        return [r for r in run_ids if r in series and any(self.news(r, series[r]))]

    def mark(self, run_id: str, series: RunSeries) -> None:
        self._rows[run_id] = (series.steps.n, series.epochs.n)

    def clear(self) -> None:
        """Everything is drawn afresh (another x axis, smoothing, set of runs)."""
        self._rows.clear()


class IncreasingCheck:
    """Whether each append-only column never decreases, checked over the rows added since the last call
    (clipping a curve to the visible x range needs sorted x)."""

    def __init__(self) -> None:
        self._done: dict[object, tuple[int, bool]] = {}

    def __call__(self, key: object, x: np.ndarray) -> bool:
        done, ok = self._done.get(key, (0, True))
        if len(x) < done:  # not an append: check it all again
            done, ok = 0, True
        if ok and len(x) > done:
            ok = bool(np.all(np.diff(x[max(done - 1, 0):]) >= 0))
        self._done[key] = (len(x), ok)
        return ok

    def clear(self) -> None:
        self._done.clear()
