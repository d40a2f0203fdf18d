"""Evaluation: adversarial prompt suites judged by the safety critic, and text-to-motion metrics
(a trained motion evaluator, R-precision, FID, diversity, multimodality, MM-distance,
prompt-following) with physical metrics (foot skating, jerk, bone lengths, ground)."""

from .adversarial import (BASELINE, DEFAULT_SUITES, RATINGS, REPORT_FILE, PromptCase, Suite, generation_pace, load_suites,
                          quick_suites, rate, run_adversarial_eval, suite_cost, summarise)
from .physical import PHYSICAL_METRICS, physical_metrics, summarise_physical

__all__ = ["BASELINE", "DEFAULT_SUITES", "PHYSICAL_METRICS", "RATINGS", "REPORT_FILE", "PromptCase", "Suite",
           "generation_pace", "load_suites", "quick_suites", "suite_cost", "physical_metrics", "rate", "run_adversarial_eval", "summarise", "summarise_physical"]
