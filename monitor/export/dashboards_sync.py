"""Push the repository's Grafana dashboards into an existing Grafana.

docker-compose provisions the dashboards from files; a team that already runs Grafana
instead gets them through its HTTP API with ``judge-monitor dashboards sync``. The sync is
uid-stable and idempotent: the folder is created only when missing, and every dashboard is
saved with its fixed uid and ``overwrite: true``, so running it twice changes nothing and
alert links (``/d/<uid>?viewPanel=<id>``) keep working.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaException, GrafanaUnauthorizedError

from monitor.errors import ConfigError, InputError, JudgeMonitorError
from monitor.paths import dashboards_dir

__all__ = [
    "DashboardSyncError",
    "SyncReport",
    "SyncedDashboard",
    "dashboard_files",
    "folder_uid_for",
    "load_dashboards",
    "sync_dashboards",
    "token_from_env",
]

SYNC_MESSAGE = "judge-monitor dashboards sync"


class DashboardSyncError(JudgeMonitorError):
    """Grafana could not be reached, refused the token, or rejected a dashboard."""


@dataclass(frozen=True, slots=True)
class SyncedDashboard:
    uid: str
    title: str
    url: str | None
    version: int | None


@dataclass(frozen=True, slots=True)
class SyncReport:
    folder_uid: str
    folder_title: str
    folder_created: bool
    dashboards: tuple[SyncedDashboard, ...]


def token_from_env(name: str) -> str:
    """The Grafana token held in the environment variable ``name``.

    The token itself never appears in a message; only the variable's name does.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {name} is not set or empty; it must hold a Grafana "
            "service-account token (or pass --token-env with the variable that does)"
        )
    return value


def dashboard_files(directory: Path | None = None) -> list[Path]:
    """The dashboard JSON files, sorted: ``dashboards/grafana/*.json`` by default."""
    folder = directory if directory is not None else dashboards_dir() / "grafana"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"no dashboard JSON files (*.json) in {folder}")
    return files


def load_dashboards(directory: Path | None = None) -> list[dict[str, Any]]:
    """Parse every dashboard file and check it has the uid and title a sync relies on."""
    dashboards = []
    for path in dashboard_files(directory):
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"dashboard file {path} is not valid JSON: {exc}") from exc
        if not isinstance(model, dict):
            raise InputError(f"dashboard file {path} must hold a JSON object")
        for key in ("uid", "title"):
            if not isinstance(model.get(key), str) or not model[key]:
                raise InputError(f"dashboard file {path} has no {key!r} string")
        dashboards.append(model)
    return dashboards


def folder_uid_for(title: str) -> str:
    """A stable folder uid derived from its title (Grafana allows at most 40 characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-")
    if not slug:
        raise InputError(f"folder title {title!r} has no letter or digit to build a uid from")
    return slug


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _ensure_folder(api: GrafanaApi, title: str) -> tuple[str, bool]:
    wanted_uid = folder_uid_for(title)
    for folder in api.folder.get_all_folders():
        if folder.get("uid") == wanted_uid or folder.get("title") == title:
            return str(folder["uid"]), False
    created = api.folder.create_folder(title, uid=wanted_uid)
    return str(created.get("uid", wanted_uid)), True


def sync_dashboards(
    *,
    url: str,
    token: str,
    folder: str = "judge-monitor",
    directory: Path | None = None,
    timeout: float = 10.0,
) -> SyncReport:
    """Create the folder if missing, then create or overwrite every dashboard in it."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise InputError(f"Grafana URL {_redacted(url)!r} must start with http:// or https://")
    dashboards = load_dashboards(directory)
    where = _redacted(url)
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    try:
        folder_uid, created = _ensure_folder(api, folder)
        synced = []
        for model in dashboards:
            body = {k: v for k, v in model.items() if k != "id"}
            answer = api.dashboard.update_dashboard(
                {
                    "dashboard": body,
                    "folderUid": folder_uid,
                    "overwrite": True,
                    "message": SYNC_MESSAGE,
                }
            )
            version = answer.get("version")
            synced.append(
                SyncedDashboard(
                    uid=str(answer.get("uid", body["uid"])),
                    title=str(body["title"]),
                    url=answer.get("url"),
                    version=int(version) if version is not None else None,
                )
            )
    except GrafanaUnauthorizedError as exc:
        raise DashboardSyncError(
            f"Grafana at {where} refused the token (HTTP 401): check the service-account "
            "token and that it has the Editor role"
        ) from exc
    except GrafanaException as exc:
        status = f"HTTP {exc.status_code}" if exc.status_code else "no response"
        raise DashboardSyncError(f"Grafana at {where} failed ({status}): {exc.message}") from exc
    except OSError as exc:  # niquests' connection errors derive from OSError
        raise DashboardSyncError(f"cannot reach Grafana at {where}: {exc}") from exc
    finally:
        api.client.s.close()  # grafana-client has no close(); free the pooled sockets
    return SyncReport(
        folder_uid=folder_uid, folder_title=folder, folder_created=created, dashboards=tuple(synced)
    )
