"""The package's public API: ``monitor.__all__`` is what a user imports, and it holds."""

from __future__ import annotations

import subprocess
import sys

import monitor


def test_every_exported_name_resolves_to_a_monitor_object() -> None:
    """Each name in ``__all__`` imports, and is defined inside the package (not re-exported
    from a third-party library)."""
    for name in monitor.__all__:
        member = getattr(monitor, name)
        if name == "__version__":
            assert isinstance(member, str)
            continue
        assert member.__module__.startswith("monitor."), (name, member.__module__)


def test_all_is_sorted_and_matches_the_lazy_table() -> None:
    """``__all__`` lists exactly the lazily imported names (plus ``__version__``), sorted."""
    assert monitor.__all__ == sorted(monitor.__all__)
    assert set(monitor.__all__) == {*monitor._HOMES, "__version__"}
    assert set(monitor.__all__) <= set(dir(monitor))


def test_unknown_names_raise_attribute_error() -> None:
    """A name outside the API is an AttributeError naming it, as for any module."""
    try:
        monitor.not_a_thing  # noqa: B018
    except AttributeError as exc:
        assert "not_a_thing" in str(exc)
    else:
        raise AssertionError("monitor.not_a_thing resolved")


def test_import_monitor_is_cheap() -> None:
    """``import monitor`` loads none of the heavy libraries until a name is used."""
    code = (
        "import sys, monitor; "
        "print(','.join(m for m in ('sqlalchemy', 'prefect', 'sklearn', 'openai') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
