"""``python -m monitor`` is the ``judge-monitor`` command."""

from monitor.cli import main

main()
