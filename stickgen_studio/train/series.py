"""A run's metric series live in the core (``stickgen_core.train.series``); re-exported for the Train page."""

from stickgen_core.train.series import (LOSS_TERMS, X_MODES, Columns, DrawnRows, IncreasingCheck, RunSeries, Table,
                                        ema_debiased, parse_rows)

__all__ = ["LOSS_TERMS", "X_MODES", "Columns", "DrawnRows", "IncreasingCheck", "RunSeries", "Table", "ema_debiased",
           "parse_rows"]
