"""judge-monitor: daily LLM-judge monitoring of a production search system.

The library behind the ``judge-monitor`` CLI and the Prefect flows in ``flows/``:
sources -> sampling -> judges -> store -> metrics -> export, each importable and
testable without Prefect.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("judge-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
