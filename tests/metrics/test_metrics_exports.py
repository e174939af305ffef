"""The metrics package's public API is exactly what its modules export."""

from __future__ import annotations

import importlib

import monitor.metrics

MODULES = ["agreement", "bias", "changepoint", "daily", "drift", "estimate", "power", "quality"]


def test_package_all_is_the_union_of_module_all() -> None:
    """Every name a module exports is re-exported by monitor.metrics, and nothing else."""
    exported: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"monitor.metrics.{name}")
        exported |= set(module.__all__)
        for symbol in module.__all__:
            assert hasattr(module, symbol), f"{name}.{symbol}"
    exported -= {"ALL", "ENSEMBLE", "Grades"}  # row/grade conventions stay in their modules
    assert set(monitor.metrics.__all__) == exported
    for symbol in monitor.metrics.__all__:
        assert getattr(monitor.metrics, symbol) is not None
