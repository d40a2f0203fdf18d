"""The Train page: launch form, runs list, live loss plots and the log of a run."""
