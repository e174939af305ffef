"""``dashboards sync`` against a local HTTP server that emulates Grafana's endpoints.

Grafana itself does not run on the test machines; the server below speaks the few
endpoints the sync uses (list/create folders, save a dashboard) and records every
request, so the tests check what a real Grafana would have received.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ConfigError, InputError, JudgeMonitorError
from monitor.export.dashboards_sync import (
    DashboardSyncError,
    folder_uid_for,
    load_dashboards,
    sync_dashboards,
    token_from_env,
)

TOKEN = "glsa_test-token-0123456789abcdef"


@dataclass
class FakeGrafana:
    """State and request log of the emulated Grafana."""

    token: str
    folders: list[dict[str, Any]] = field(default_factory=list)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def make_handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            entry = {
                "method": self.command,
                "path": self.path.split("?")[0],
                "authorization": self.headers.get("Authorization"),
                "json": json.loads(raw) if raw else None,
            }
            state.requests.append(entry)
            if entry["authorization"] != f"Bearer {state.token}":
                self._reply(401, {"message": "invalid API key"})
                return None
            return entry

        def do_GET(self) -> None:
            if self._record() is None:
                return
            if self.path.startswith("/api/folders"):
                self._reply(200, state.folders)
            else:
                self._reply(404, {"message": "not found"})

        def do_POST(self) -> None:
            entry = self._record()
            if entry is None:
                return
            body = entry["json"]
            if entry["path"] == "/api/folders":
                if any(f["uid"] == body.get("uid") for f in state.folders):
                    self._reply(409, {"message": "a folder with the same uid already exists"})
                    return
                folder = {"id": len(state.folders) + 1, "uid": body["uid"], "title": body["title"]}
                state.folders.append(folder)
                self._reply(200, folder)
            elif entry["path"] == "/api/dashboards/db":
                dash = body["dashboard"]
                known = state.dashboards.get(dash["uid"])
                if known is not None and not body.get("overwrite"):
                    self._reply(412, {"message": "version-mismatch", "status": "version-mismatch"})
                    return
                version = known["version"] + 1 if known else 1
                state.dashboards[dash["uid"]] = {"version": version, "body": body}
                self._reply(
                    200,
                    {
                        "id": len(state.dashboards),
                        "uid": dash["uid"],
                        "url": f"/d/{dash['uid']}/x",
                        "status": "success",
                        "version": version,
                    },
                )
            else:
                self._reply(404, {"message": "not found"})

    return Handler


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    state = FakeGrafana(token=TOKEN)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_first_sync_creates_folder_and_posts_every_dashboard(grafana: FakeGrafana) -> None:
    """The folder is created once; each dashboard is posted with its uid, overwrite and folder."""
    report = sync_dashboards(url=grafana.url, token=TOKEN, folder="Search Monitoring")
    expected = {d["uid"] for d in load_dashboards()}
    assert report.folder_created and report.folder_uid == folder_uid_for("Search Monitoring")
    (create,) = grafana.calls("POST", "/api/folders")
    assert create["json"] == {"title": "Search Monitoring", "uid": report.folder_uid}
    posts = grafana.calls("POST", "/api/dashboards/db")
    assert {p["json"]["dashboard"]["uid"] for p in posts} == expected
    for post in posts:
        assert post["json"]["overwrite"] is True
        assert post["json"]["folderUid"] == report.folder_uid
        assert "id" not in post["json"]["dashboard"]
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in grafana.requests)
    assert {d.uid for d in report.dashboards} == expected
    assert all(d.version == 1 for d in report.dashboards)


def test_second_sync_is_idempotent(grafana: FakeGrafana) -> None:
    """A second sync reuses the folder and overwrites the same uids: nothing is duplicated."""
    first = sync_dashboards(url=grafana.url, token=TOKEN)
    second = sync_dashboards(url=grafana.url, token=TOKEN)
    assert first.folder_created and not second.folder_created
    assert second.folder_uid == first.folder_uid
    assert len(grafana.calls("POST", "/api/folders")) == 1
    assert len(grafana.folders) == 1
    assert set(grafana.dashboards) == {d.uid for d in first.dashboards}
    assert all(d.version == 2 for d in second.dashboards)


def test_existing_folder_found_by_title(grafana: FakeGrafana) -> None:
    """A folder someone already made with that title is reused, whatever its uid."""
    grafana.folders.append({"id": 7, "uid": "abc123", "title": "judge-monitor"})
    report = sync_dashboards(url=grafana.url, token=TOKEN)
    assert report.folder_uid == "abc123" and not report.folder_created
    assert not grafana.calls("POST", "/api/folders")
    posts = grafana.calls("POST", "/api/dashboards/db")
    assert posts and {p["json"]["folderUid"] for p in posts} == {"abc123"}


def test_wrong_token_is_a_clear_error_without_the_token(grafana: FakeGrafana) -> None:
    """Grafana's 401 becomes a DashboardSyncError that names the cause, not the token."""
    wrong = "glsa_wrong-token-secret"
    with pytest.raises(DashboardSyncError, match="refused the token") as info:
        sync_dashboards(url=grafana.url, token=wrong)
    assert wrong not in str(info.value)
    assert not grafana.calls("POST", "/api/dashboards/db")


def test_unreachable_grafana_is_a_clear_error() -> None:
    """Nothing listening at the URL gives a JudgeMonitorError naming the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    expected = f"cannot reach Grafana at {re.escape(url)}"
    with pytest.raises(JudgeMonitorError, match=expected) as info:
        sync_dashboards(url=url, token=TOKEN, timeout=2.0)
    assert isinstance(info.value, DashboardSyncError)
    assert TOKEN not in str(info.value)


def test_url_credentials_are_redacted_in_errors() -> None:
    """A user:password in the URL never shows in the error message."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DashboardSyncError) as info:
        sync_dashboards(url=f"http://admin:hunter2@127.0.0.1:{port}", token=TOKEN, timeout=2.0)
    assert "hunter2" not in str(info.value) and "***@127.0.0.1" in str(info.value)


def test_token_from_env_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing or empty token variable is a ConfigError that names the variable."""
    monkeypatch.delenv("JM_TEST_GRAFANA_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="JM_TEST_GRAFANA_TOKEN"):
        token_from_env("JM_TEST_GRAFANA_TOKEN")
    monkeypatch.setenv("JM_TEST_GRAFANA_TOKEN", "  ")
    with pytest.raises(ConfigError, match="JM_TEST_GRAFANA_TOKEN"):
        token_from_env("JM_TEST_GRAFANA_TOKEN")
    monkeypatch.setenv("JM_TEST_GRAFANA_TOKEN", TOKEN)
    assert token_from_env("JM_TEST_GRAFANA_TOKEN") == TOKEN


def test_bad_dashboard_files_are_named(tmp_path: Path) -> None:
    """An empty folder, broken JSON or a dashboard without uid is an InputError naming it."""
    with pytest.raises(InputError, match="no dashboard JSON"):
        load_dashboards(tmp_path)
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(InputError, match=r"a\.json"):
        load_dashboards(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"title": "x"}))
    with pytest.raises(InputError, match=r"a\.json.*'uid'"):
        load_dashboards(tmp_path)


def test_non_http_url_refused() -> None:
    """A URL without http(s) scheme is refused before any request."""
    with pytest.raises(InputError, match="http:// or https://"):
        sync_dashboards(url="grafana.example.com", token=TOKEN)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("JM_TEST_")}
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
    )


def test_cli_sync_end_to_end(grafana: FakeGrafana) -> None:
    """`judge-monitor dashboards sync` syncs every dashboard and never prints the token."""
    out = run_cli(
        "dashboards", "sync", "--url", grafana.url, "--token-env", "JM_TEST_TOKEN",
        "--folder", "judge-monitor",
        env={"JM_TEST_TOKEN": TOKEN},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for dashboard in load_dashboards():
        assert dashboard["uid"] in out.stdout
    assert TOKEN not in out.stdout + out.stderr
    assert len(grafana.calls("POST", "/api/folders")) == 1


def test_cli_missing_token_variable(
    grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the token variable the CLI exits 1 with one line naming it, and sends nothing."""
    from monitor.cli import main

    monkeypatch.delenv("JM_TEST_ABSENT", raising=False)
    argv = ["judge-monitor", "dashboards", "sync", "--url", grafana.url]
    monkeypatch.setattr(sys, "argv", [*argv, "--token-env", "JM_TEST_ABSENT"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "JM_TEST_ABSENT" in err and "Traceback" not in err
    assert grafana.requests == []


def test_public_api_is_exported() -> None:
    """Every name in monitor.dashboards_sync.__all__ exists and the error is a JudgeMonitorError."""
    import monitor.export.dashboards_sync as module

    assert all(hasattr(module, name) for name in module.__all__)
    assert issubclass(module.DashboardSyncError, JudgeMonitorError)
