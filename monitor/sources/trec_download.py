"""Download the TREC DL19 runs and qrels the real-data tests and benches read.

Why: the MS MARCO passage texts inside the runs are under research-only terms, so they
never ship with the repository or the package. Instead ``make data`` (``judge-monitor
data fetch-dl19``) fetches them from their public homes, pinned to a commit, and checks
every byte: the file as served must have the pinned sha256, and so must the file
written, so a rerun verifies what is on disk and downloads nothing when it is intact.

The runs are castorini/rank_llm's ``retrieve_results_dl19.json`` (a JSON list of
``{"query", "hits": [{"content", "qid", "docid", "rank", "score"}, …]}``), converted to
the JSONL that :class:`monitor.sources.trec.TrecSource` reads, one query a line:
``{"qid", "query", "results": [{"docid", "rank", "score", "text"}, …]}``. The qrels are
copied as served. Every file is written to a temporary name in the destination and
renamed into place only once verified, so a failed or interrupted download never
leaves a partial or corrupt file under the real name.

``base_url`` replaces ``https://raw.githubusercontent.com`` (a mirror, or a local server
in the tests); files are fetched from ``{base_url}/{repo}/{commit}/{path}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import httpx

from monitor.errors import InputError, SourceError

__all__ = [
    "DL19_FILES",
    "RAW_GITHUB",
    "DataFile",
    "DownloadProgress",
    "convert_run",
    "download_dl19",
]

RAW_GITHUB = "https://raw.githubusercontent.com"

_RANK_LLM = "castorini/rank_llm"
_RANK_LLM_COMMIT = "916102c7de2f7348a64427b89300946657997098"
_RANK_LLM_REPLLAMA_COMMIT = "7a081d07fbf31c8b3051288db7efa201b23cd0cf"
_ANSERINI_TOOLS = "castorini/anserini-tools"
_ANSERINI_TOOLS_COMMIT = "5b819c1a45c8a0a3ec9426f476694f44a29dfaf3"

_CHUNK = 1 << 16
_TIMEOUT = httpx.Timeout(60.0, connect=15.0)


@dataclass(frozen=True)
class DataFile:
    """One file to fetch: where it lives, what it must hash to, and how it is written."""

    name: str
    """The file name written in the destination (``run.bm25.jsonl``)."""
    repo: str
    """``owner/name`` on GitHub."""
    commit: str
    path: str
    """The path inside the repository."""
    sha256: str
    """Of the file as served."""
    output_sha256: str
    """Of the file written (equal to ``sha256`` for a copy)."""
    kind: Literal["run", "copy"] = "run"
    """``run``: a rank_llm retrieve_results JSON converted to JSONL; ``copy``: as served."""

    def url(self, base_url: str = RAW_GITHUB) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"


def _run(name: str, folder: str, sha256: str, output_sha256: str, commit: str) -> DataFile:
    path = f"retrieve_results/{folder}/retrieve_results_dl19.json"
    return DataFile(f"run.{name}.jsonl", _RANK_LLM, commit, path, sha256, output_sha256)


DL19_FILES: tuple[DataFile, ...] = (
    _run(
        "bm25",
        "BM25",
        "4f3e4aba8bb68c1b38405da010f44537f31d3b5fff7088ef97c03caed1076674",
        "6aa0ed734c72ec4b85e8417cdc298854b714a8e16ade94fc9f391e7d7da67cef",
        _RANK_LLM_COMMIT,
    ),
    _run(
        "bm25-rm3",
        "BM25_RM3",
        "b5ab68b20a83b5f718bfa0d6f788b2f839100123e85c0b95768331d01c676631",
        "ae1b760ee5e4ae49f5869303693b2a66deff20aac2be68af30a417a7314b8b0e",
        _RANK_LLM_COMMIT,
    ),
    _run(
        "tasb",
        "D_BERT_KD_TASB",
        "6af564b78da890ded64787ca4c6d32de232bfe5b4030e1ca868a8fc75d79baec",
        "0b67b76d5e6ccb7f1af6f9ab5d82d2eb66923291f6768a6da14f102e14495434",
        _RANK_LLM_COMMIT,
    ),
    _run(
        "openai-ada2",
        "OPEN_AI_ADA2",
        "9b6e71e0c3731acd4e49aeb9fd79852d0f5ac2641cd67f1984d40e47325eb51d",
        "fd5944613a54e7cf7a86e450f7dcc79820822cc9ffab448746f1cf30dee9a36d",
        _RANK_LLM_COMMIT,
    ),
    _run(
        "splade-pp-ed",
        "SPLADE_P_P_ENSEMBLE_DISTIL",
        "2b4a11fe6877a4cb0138426add49b3b70bc2d46390ce5a9b0120cca26cec4099",
        "1e57248153edc75519eaa2b5e3ddbf7cf0c40968cd00715820e75aa502501e10",
        _RANK_LLM_COMMIT,
    ),
    _run(
        "repllama",
        "REP_LLAMA",
        "ae4cd2fb695446650241a894c8d1cf20bef3ca54bad792647b9474ec59986fdb",
        "daf94188b252dd4f6c4b6160be1f4bf2d79db1008ecb4a2751ee39f36a37e2f6",
        _RANK_LLM_REPLLAMA_COMMIT,
    ),
    DataFile(
        "qrels.dl19-passage.txt",
        _ANSERINI_TOOLS,
        _ANSERINI_TOOLS_COMMIT,
        "qrels/qrels.dl19-passage.txt",
        "8a1f10d550732e4cd91d7fc49846a3784de4040972f583e69285a88f3c5fee92",
        "8a1f10d550732e4cd91d7fc49846a3784de4040972f583e69285a88f3c5fee92",
        kind="copy",
    ),
)
"""The seven DL19 files: six runs (43 queries each) and the passage qrels."""


class DownloadProgress(Protocol):
    """What ``download_dl19`` tells about each file as it goes."""

    def started(self, file: DataFile, total: int | None) -> None:
        """A download began; ``total`` is its size in bytes when the server says."""

    def advanced(self, file: DataFile, done: int) -> None:
        """``done`` bytes of the file have arrived so far."""

    def finished(self, file: DataFile, path: Path, downloaded: bool) -> None:
        """``path`` is in place and verified (``downloaded`` False: it already was)."""


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def convert_run(raw: Any, *, where: str) -> list[dict[str, Any]]:
    """rank_llm retrieve_results (already parsed) as TrecSource JSONL rows, in order.

    Each query keeps its hits' ``qid`` (as a string), the query text, and per hit the
    docid, rank, score and ``content`` as ``text``. ``where`` names the input in errors.
    """
    if not isinstance(raw, list):
        raise SourceError(f"{where}: not a rank_llm retrieve_results list (top level is not [])")
    rows: list[dict[str, Any]] = []
    for n, entry in enumerate(raw, start=1):
        try:
            hits = entry["hits"]
            qids = {str(h["qid"]) for h in hits}
            if len(qids) != 1:
                raise ValueError(f"hits carry {len(qids)} different qids")
            rows.append(
                {
                    "qid": qids.pop(),
                    "query": str(entry["query"]),
                    "results": [
                        {
                            "docid": str(h["docid"]),
                            "rank": int(h["rank"]),
                            "score": float(h["score"]),
                            "text": str(h["content"]),
                        }
                        for h in hits
                    ],
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else _one_line(exc)
            raise SourceError(f"{where}: query {n} is not a rank_llm entry ({detail})") from exc
    return rows


def _temp_in(dest: Path, name: str) -> tuple[IO[bytes], Path]:
    """A new hidden file beside the target (same file system, so renaming is atomic).

    Not ``tempfile.mkstemp``: its files are private (0600); these get the umask's mode.
    """
    while True:
        tmp = dest / f".{name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "wb"), tmp


def _fetch_to(
    client: httpx.Client,
    file: DataFile,
    url: str,
    out: IO[bytes],
    progress: DownloadProgress | None,
) -> str:
    """Stream ``url`` into ``out``; the sha256 of what arrived."""
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise SourceError(
                    f"{file.name}: GET {url} answered HTTP {response.status_code} "
                    f"{response.reason_phrase}".rstrip()
                )
            length = response.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress.started(file, total)
            for chunk in response.iter_bytes(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress.advanced(file, response.num_bytes_downloaded)
    except httpx.HTTPError as exc:
        raise SourceError(f"{file.name}: cannot download {url}: {_one_line(exc)}") from exc
    return digest.hexdigest()


def _fetch_one(
    client: httpx.Client,
    file: DataFile,
    dest: Path,
    base_url: str,
    progress: DownloadProgress | None,
) -> None:
    url = file.url(base_url)
    target = dest / file.name
    temps: list[Path] = []
    try:
        fh, raw_path = _temp_in(dest, file.name)
        temps.append(raw_path)
        with fh:
            got = _fetch_to(client, file, url, fh, progress)
        if got != file.sha256:
            raise SourceError(
                f"{file.name}: {url} has sha256 {got}, expected {file.sha256}; "
                f"nothing written to {target}"
            )
        if file.kind == "copy":
            written = raw_path
        else:
            try:
                raw = json.loads(raw_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise SourceError(f"{file.name}: {url} is not JSON ({_one_line(exc)})") from exc
            rows = convert_run(raw, where=f"{file.name}: {url}")
            fh, written = _temp_in(dest, file.name)
            temps.append(written)
            with fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False).encode("utf-8"))
                    fh.write(b"\n")
        made = _sha256_of(written)
        if made != file.output_sha256:
            raise SourceError(
                f"{file.name}: the converted file has sha256 {made}, expected "
                f"{file.output_sha256}; nothing written to {target}"
            )
        os.replace(written, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def download_dl19(
    dest: Path,
    *,
    base_url: str = RAW_GITHUB,
    manifest: Sequence[DataFile] = DL19_FILES,
    progress: DownloadProgress | None = None,
) -> list[Path]:
    """Put every manifest file in ``dest``, verified; the paths, in manifest order.

    A file already in ``dest`` with its pinned ``output_sha256`` is kept and not
    downloaded again. Raises ``SourceError`` (naming the file) when a download fails or
    does not hash as pinned, and ``InputError`` for a bad ``dest`` or ``base_url``.
    Files finished before an error stay in place; the failing one is not written.
    """
    if not base_url.startswith(("http://", "https://")):
        raise InputError(f"base URL {base_url!r}: want an http:// or https:// URL")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: the data destination exists and is not a folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{dest}: cannot create the data folder ({_one_line(exc)})") from exc
    paths: list[Path] = []
    with httpx.Client(timeout=_TIMEOUT, follow_redirects=True) as client:
        for file in manifest:
            target = dest / file.name
            present = target.is_file() and _sha256_of(target) == file.output_sha256
            if not present:
                try:
                    _fetch_one(client, file, dest, base_url, progress)
                except OSError as exc:
                    raise SourceError(
                        f"{file.name}: cannot write into {dest} ({_one_line(exc)})"
                    ) from exc
            if progress is not None:
                progress.finished(file, target, downloaded=not present)
            paths.append(target)
    return paths
