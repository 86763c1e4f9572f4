"""Compatibility: the collection run moved to the :mod:`msgevents.run` package."""

from msgevents.run import GC_THRESHOLDS, CollectOptions, Collector, describe_validation_error

__all__ = ["GC_THRESHOLDS", "CollectOptions", "Collector", "describe_validation_error"]
