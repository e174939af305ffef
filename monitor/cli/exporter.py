"""``judge-monitor exporter``: serve the Prometheus metrics read from Postgres."""

from __future__ import annotations

import errno
import threading

import typer

from monitor.cli.app import app, console
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.export.exporter import serve_exporter

__all__ = ["exporter"]


@app.command("exporter")
def exporter(
    port: int | None = typer.Option(
        None, "--port", "-p", help="Port to listen on (default: settings.exporter_port, 9108)."
    ),
    addr: str = typer.Option("0.0.0.0", "--addr", help="Address to bind."),
) -> None:
    """Serve /metrics for Prometheus until Ctrl-C; the database is read at each scrape."""
    settings = load_settings()
    chosen = settings.exporter_port if port is None else port
    try:
        server, _thread, where = serve_exporter(settings, chosen, addr)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ConfigError(
            f"--port {chosen}: {addr}:{chosen} is already in use (another exporter?); "
            "choose another port with --port"
        ) from None
    host = "localhost" if addr in {"0.0.0.0", "::"} else addr
    console.print(f"database: {where}")
    console.print(f"serving metrics on http://{host}:{server.server_port}/metrics (Ctrl-C stops)")
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
        server.server_close()
