"""`make data`'s downloader: fetch, verify sha256, convert to JSONL, write atomically.

The machines running the tests cannot reach GitHub, so small rank_llm-shaped files are
served from tmp_path by a real HTTP server on 127.0.0.1 at the same
``owner/repo/commit/path`` layout, with a manifest pinning their hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from real_data import DL19

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.trec import TrecSource, read_qrels
from monitor.sources.trec_download import DL19_FILES, DataFile, download_dl19

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
COMMIT = "0123456789abcdef0123456789abcdef01234567"

RAW_RUN: list[dict[str, Any]] = [
    {
        "query": "how long is life cycle of flea",
        "hits": [
            {"content": "A flea lives up to a year.", "qid": 264014, "docid": "5611210",
             "rank": 1, "score": 15.78},
            {"content": "Fleas: 20 days to a year — Ã¼ber.", "qid": 264014, "docid": "6641238",
             "rank": 2, "score": 15.09},
        ],
    },
    {
        "query": "what is a lobster roll",
        "hits": [
            {"content": "Lobster meat in a bun.", "qid": 1110199, "docid": "42", "rank": 1,
             "score": 9.5},
        ],
    },
]  # fmt: skip
QRELS = b"264014 0 5611210 3\n264014 0 6641238 1\n1110199 0 42 2\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _expected_jsonl(raw: list[dict[str, Any]]) -> bytes:
    """The JSONL layout of the real converted files, built independently of the code."""
    lines = []
    for entry in raw:
        row = {
            "qid": str(entry["hits"][0]["qid"]),
            "query": entry["query"],
            "results": [
                {"docid": h["docid"], "rank": h["rank"], "score": h["score"], "text": h["content"]}
                for h in entry["hits"]
            ],
        }
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines).encode("utf-8")


@dataclass
class Server:
    """A real HTTP server on 127.0.0.1 serving ``root``; ``requests`` lists GET paths."""

    root: Path
    base_url: str
    requests: list[str] = field(default_factory=list)

    def put(self, repo: str, path: str, data: bytes) -> None:
        target = self.root / repo / COMMIT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """Serve tmp_path/www over HTTP on a free port for the duration of a test."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    seen: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def manifest(server: Server) -> list[DataFile]:
    """Two files served by ``server``: a rank_llm run to convert and a qrels to copy."""
    raw = json.dumps(RAW_RUN, indent=2).encode()
    server.put("castorini/rank_llm", "retrieve_results/BM25/retrieve_results_dl19.json", raw)
    server.put("castorini/anserini-tools", "qrels/qrels.dl19-passage.txt", QRELS)
    return [
        DataFile(
            "run.bm25.jsonl",
            "castorini/rank_llm",
            COMMIT,
            "retrieve_results/BM25/retrieve_results_dl19.json",
            _sha(raw),
            _sha(_expected_jsonl(RAW_RUN)),
        ),
        DataFile(
            "qrels.dl19-passage.txt",
            "castorini/anserini-tools",
            COMMIT,
            "qrels/qrels.dl19-passage.txt",
            _sha(QRELS),
            _sha(QRELS),
            kind="copy",
        ),
    ]


@dataclass
class Recorder:
    """A DownloadProgress that keeps what it was told."""

    starts: list[tuple[str, int | None]] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)
    outcomes: list[tuple[str, bool]] = field(default_factory=list)

    def started(self, file: DataFile, total: int | None) -> None:
        self.starts.append((file.name, total))

    def advanced(self, file: DataFile, done: int) -> None:
        self.done[file.name] = done

    def finished(self, file: DataFile, path: Path, downloaded: bool) -> None:
        self.outcomes.append((file.name, downloaded))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_converts_to_what_trec_source_reads(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A fresh download writes the JSONL run and the qrels, which TrecSource reads back."""
    dest = tmp_path / "data" / "trec-dl19"
    paths = download_dl19(dest, base_url=server.base_url, manifest=manifest)
    assert paths == [dest / "run.bm25.jsonl", dest / "qrels.dl19-passage.txt"]
    assert _listing(dest) == ["qrels.dl19-passage.txt", "run.bm25.jsonl"]
    assert (dest / "run.bm25.jsonl").read_bytes() == _expected_jsonl(RAW_RUN)
    assert (dest / "qrels.dl19-passage.txt").read_bytes() == QRELS
    umask = os.umask(0)
    os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in paths} == {0o666 & ~umask}
    first = json.loads((dest / "run.bm25.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert list(first) == ["qid", "query", "results"] and first["qid"] == "264014"
    assert list(first["results"][0]) == ["docid", "rank", "score", "text"]

    source = TrecSource(SourceConfig(kind="trec", path=str(dest / "run.bm25.jsonl")))
    records = list(source.fetch(START, END))
    assert source.report.bad == 0 and source.ranker == "bm25"
    assert [(r.query_id, r.query) for r in records] == [
        ("264014", "how long is life cycle of flea"),
        ("1110199", "what is a lobster roll"),
    ]
    got = [(x.id, x.position, x.metadata["score"], x.text) for x in records[0].results]
    assert got == [
        ("5611210", 1, 15.78, "A flea lives up to a year."),
        ("6641238", 2, 15.09, "Fleas: 20 days to a year — Ã¼ber."),
    ]
    assert read_qrels(dest / "qrels.dl19-passage.txt") == [
        ("264014", "5611210", 3),
        ("264014", "6641238", 1),
        ("1110199", "42", 2),
    ]
    assert sorted(server.requests) == sorted(f"/{f.repo}/{f.commit}/{f.path}" for f in manifest)


def test_rerun_with_verified_files_downloads_nothing(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A second run finds both files present with their pinned hashes and makes no request."""
    dest = tmp_path / "dl19"
    first = Recorder()
    download_dl19(dest, base_url=server.base_url, manifest=manifest, progress=first)
    assert first.outcomes == [("run.bm25.jsonl", True), ("qrels.dl19-passage.txt", True)]
    assert first.done["qrels.dl19-passage.txt"] == len(QRELS)
    assert ("qrels.dl19-passage.txt", len(QRELS)) in first.starts
    assert len(server.requests) == 2

    again = Recorder()
    download_dl19(dest, base_url=server.base_url, manifest=manifest, progress=again)
    assert len(server.requests) == 2
    assert again.outcomes == [("run.bm25.jsonl", False), ("qrels.dl19-passage.txt", False)]
    assert again.starts == []


def test_stale_file_is_replaced_by_rename(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A present file with the wrong content is fetched again and swapped in by rename."""
    dest = tmp_path / "dl19"
    dest.mkdir()
    stale = dest / "run.bm25.jsonl"
    stale.write_bytes(b'{"qid": "1", "query": "truncated')
    keep = tmp_path / "hardlink-to-the-old-file"
    os.link(stale, keep)
    download_dl19(dest, base_url=server.base_url, manifest=manifest)
    assert stale.read_bytes() == _expected_jsonl(RAW_RUN)
    # Written in place, the old inode (seen through the hard link) would have changed too.
    assert keep.read_bytes() == b'{"qid": "1", "query": "truncated'
    assert _listing(dest) == ["qrels.dl19-passage.txt", "run.bm25.jsonl"]


def test_wrong_sha256_names_file_and_hashes_and_writes_nothing(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A served file that does not hash as pinned: SourceError with both hashes, no file."""
    dest = tmp_path / "dl19"
    good, bad = manifest[1], replace(manifest[0], sha256="0" * 64)
    served = _sha(json.dumps(RAW_RUN, indent=2).encode())
    with pytest.raises(SourceError) as err:
        download_dl19(dest, base_url=server.base_url, manifest=[good, bad])
    message = str(err.value)
    assert "run.bm25.jsonl" in message and "\n" not in message
    assert f"sha256 {served}, expected {'0' * 64}" in message
    # The file verified before the failure stays; the failing one and its temp files do not.
    assert _listing(dest) == ["qrels.dl19-passage.txt"]


def test_conversion_not_matching_pinned_output_writes_nothing(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A raw file that verifies but converts to other bytes than pinned is not written."""
    dest = tmp_path / "dl19"
    with pytest.raises(SourceError, match=r"run\.bm25\.jsonl: the converted file has sha256"):
        download_dl19(
            dest, base_url=server.base_url, manifest=[replace(manifest[0], output_sha256="1" * 64)]
        )
    assert _listing(dest) == []


def test_missing_file_is_a_one_line_http_error(
    server: Server, manifest: list[DataFile], tmp_path: Path
) -> None:
    """A 404 names the file, the URL and the status, on one line, and writes nothing."""
    gone = replace(manifest[0], path="retrieve_results/NOPE/retrieve_results_dl19.json")
    dest = tmp_path / "dl19"
    with pytest.raises(SourceError) as err:
        download_dl19(dest, base_url=server.base_url + "/", manifest=[gone])
    message = str(err.value)
    assert message.startswith("run.bm25.jsonl: GET ")
    assert f"{server.base_url}/castorini/rank_llm/{COMMIT}/retrieve_results/NOPE/" in message
    assert "HTTP 404" in message and "\n" not in message
    assert _listing(dest) == []


def test_unreachable_server_is_a_one_line_error(manifest: list[DataFile], tmp_path: Path) -> None:
    """Nothing listening at the base URL: a one-line SourceError naming file and URL."""
    base = f"http://127.0.0.1:{_free_port()}"
    dest = tmp_path / "dl19"
    with pytest.raises(SourceError) as err:
        download_dl19(dest, base_url=base, manifest=manifest)
    message = str(err.value)
    assert message.startswith(f"run.bm25.jsonl: cannot download {base}/castorini/rank_llm/")
    assert "\n" not in message
    assert _listing(dest) == []


def test_raw_file_not_in_rank_llm_shape_is_named(server: Server, tmp_path: Path) -> None:
    """A verified raw file without hits is a SourceError naming the file and the query."""
    raw = json.dumps([{"query": "q", "hits": [{"qid": 1, "docid": "d"}]}]).encode()
    server.put("o/r", "run.json", raw)
    odd = DataFile("run.odd.jsonl", "o/r", COMMIT, "run.json", _sha(raw), "2" * 64)
    with pytest.raises(SourceError, match=r"run\.odd\.jsonl: .*query 1 is not a rank_llm entry"):
        download_dl19(tmp_path / "dl19", base_url=server.base_url, manifest=[odd])
    assert _listing(tmp_path / "dl19") == []


def test_bad_destination_and_base_url_are_input_errors(tmp_path: Path) -> None:
    """A destination that is a file, or a base URL that is not http(s), is an InputError."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="exists and is not a folder"):
        download_dl19(blocker, manifest=[])
    with pytest.raises(InputError, match="ftp://x"):
        download_dl19(tmp_path / "d", base_url="ftp://x", manifest=[])


def test_manifest_pins_the_seven_dl19_files() -> None:
    """The real manifest: six runs and the qrels, at pinned commits, raw GitHub URLs."""
    names = [f.name for f in DL19_FILES]
    assert names == [
        "run.bm25.jsonl",
        "run.bm25-rm3.jsonl",
        "run.tasb.jsonl",
        "run.openai-ada2.jsonl",
        "run.splade-pp-ed.jsonl",
        "run.repllama.jsonl",
        "qrels.dl19-passage.txt",
    ]
    assert all(len(f.commit) == 40 and len(f.sha256) == 64 for f in DL19_FILES)
    assert DL19_FILES[0].url() == (
        "https://raw.githubusercontent.com/castorini/rank_llm/"
        "916102c7de2f7348a64427b89300946657997098/"
        "retrieve_results/BM25/retrieve_results_dl19.json"
    )


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_cli_unreachable_mirror_is_one_red_line(tmp_path: Path) -> None:
    """`data fetch-dl19` against a dead mirror: exit 1, one line naming the file, no traceback."""
    base = f"http://127.0.0.1:{_free_port()}"
    out = _run_cli("data", "fetch-dl19", "--base-url", base, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert "run.bm25.jsonl: cannot download" in lines[0]
    assert (tmp_path / "data" / "trec-dl19").is_dir()
    assert list((tmp_path / "data" / "trec-dl19").iterdir()) == []


@pytest.mark.dl19
def test_real_dl19_folder_verifies_against_the_manifest() -> None:
    """The real DL19 files hash as the manifest pins them: a rerun fetches nothing."""
    dead = f"http://127.0.0.1:{_free_port()}"
    assert download_dl19(DL19, base_url=dead) == [DL19 / f.name for f in DL19_FILES]


@pytest.mark.dl19
def test_cli_on_real_folder_prints_the_export_line(tmp_path: Path) -> None:
    """`data fetch-dl19 --dest <real data>` verifies all seven and prints the export hint."""
    dead = f"http://127.0.0.1:{_free_port()}"
    out = _run_cli("data", "fetch-dl19", "--dest", str(DL19), "--base-url", dead, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"export JUDGE_MONITOR_TREC_DL19={DL19}"
    assert out.stderr.count("present, sha256 verified") == 7
    assert "(0 downloaded)" in out.stderr
