"""Where the project's non-Python files are: in a source checkout, or inside the wheel.

``migrations/`` and ``dashboards/`` sit at the top of the repository (where operators
look for them); a built wheel carries copies under ``monitor/_migrations`` and
``monitor/_dashboards``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["dashboards_dir", "migrations_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    packaged = _PACKAGE / f"_{name}"
    if packaged.is_dir():
        return packaged
    raise FileNotFoundError(f"cannot find the {name}/ folder next to {_PACKAGE}")


def migrations_dir() -> Path:
    return _find("migrations")


def dashboards_dir() -> Path:
    return _find("dashboards")
