"""The Evaluate page: critic viewer, adversarial report browser, comparison, playground, exports."""

from .page import EvaluatePage

__all__ = ["EvaluatePage"]
