"""A BM25 index over chunk texts, labelled by chunk id, built on bm25s.

bm25s builds a static sparse score matrix. Incremental writes are honest here because the costly part,
text analysis, is done once per chunk and kept: each chunk's token ids live in memory and on disk, and the
bm25s matrix is rebuilt from them (no re-analysis) lazily on the first search after a write. That rebuild
is measured in docs/EVALUATION.md (5.0 s for 100k chunks on a heavily loaded machine, against 166 s with
bm25s's own ``index``).

Saved state is a directory written like the vector indexes' (core/saveddir.py: temp dir + swap, file
checksums): ``manifest.json`` (analysis options and BM25 parameters under ``params``, counts), ``vocab.json``
(the token list; ids are positions, append-only) and ``tokens.npz`` (chunk ids, offsets, token ids).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import IndexCorrupt, InvalidInput
from core.saveddir import read_saved_dir, write_saved_dir

FORMAT = "latentspace-bm25/1"
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
STEMMERS = ("english", "none")
STOPWORD_SETS = ("en", "none")


@dataclass(frozen=True)
class LexicalOptions:
    """Per-collection analysis (``Collection.options["lexical"]``) and BM25 parameters."""

    lowercase: bool = True
    stopwords: str = "en"
    stemmer: str = "english"
    k1: float = 1.5  # picked on SciFact train (docs/EVALUATION.md)
    b: float = 0.75

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> LexicalOptions:
        raw = dict(raw or {})
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidInput(f"unknown lexical option(s): {', '.join(sorted(unknown))}")
        options = cls(**raw)
        if options.stemmer not in STEMMERS:
            raise InvalidInput(f"lexical stemmer must be one of {STEMMERS}")
        if options.stopwords not in STOPWORD_SETS:
            raise InvalidInput(f"lexical stopwords must be one of {STOPWORD_SETS}")
        if not (options.k1 >= 0 and 0 <= options.b <= 1):
            raise InvalidInput("lexical k1 must be >= 0 and b between 0 and 1")
        return options


class Analyzer:
    """Text → list of terms: word tokens, lower-cased, stop words removed, Snowball-stemmed."""

    def __init__(self, options: LexicalOptions) -> None:
        self.options = options
        self._stopwords: frozenset[str] = frozenset()
        if options.stopwords == "en":
            from bm25s.stopwords import STOPWORDS_EN

            self._stopwords = frozenset(STOPWORDS_EN)
        self._stemmer = None
        if options.stemmer != "none":
            import Stemmer

            self._stemmer = Stemmer.Stemmer(options.stemmer)

    def terms(self, text: str) -> list[str]:
        words = _TOKEN.findall(text.lower() if self.options.lowercase else text)
        words = [w for w in words if w.lower() not in self._stopwords]
        return self._stemmer.stemWords(words) if self._stemmer is not None else words


class Bm25Index:
    """BM25 over chunks: ``add(ids, texts)``, ``remove(ids)``, ``scores(query)``, ``search``, save/load."""

    def __init__(self, options: LexicalOptions | None = None) -> None:
        self.options = options or LexicalOptions()
        self.analyzer = Analyzer(self.options)
        self._vocab: dict[str, int] = {}
        self._tokens: dict[int, np.ndarray] = {}  # chunk id → int32 token ids
        self._order = np.zeros(0, dtype=np.int64)  # row → chunk id of the built matrix (sorted)
        self._model: Any = None
        self._dirty = True
        self._lock = threading.Lock()  # writers and the lazy rebuild must not interleave with a query

    def __len__(self) -> int:
        return len(self._tokens)

    def ids(self) -> np.ndarray:
        return np.fromiter(self._tokens.keys(), dtype=np.int64, count=len(self._tokens))

    def add(self, ids: np.ndarray | list[int], texts: list[str]) -> None:
        """Add (or replace) chunks; ``ids`` int64 (n,), ``texts`` n strings."""
        if len(ids) != len(texts):
            raise InvalidInput(f"{len(ids)} ids but {len(texts)} texts")
        terms = [self.analyzer.terms(text) for text in texts]  # the costly part, outside the lock
        with self._lock:
            for chunk_id, chunk_terms in zip(ids, terms, strict=True):
                self._tokens[int(chunk_id)] = self._encode(chunk_terms, grow=True)
            self._dirty = self._dirty or len(ids) > 0

    def remove(self, ids: np.ndarray | list[int]) -> None:
        with self._lock:
            removed = [self._tokens.pop(int(i), None) for i in ids]
            self._dirty = self._dirty or any(r is not None for r in removed)

    def _encode(self, terms: list[str], grow: bool) -> np.ndarray:
        if grow:
            for term in terms:
                self._vocab.setdefault(term, len(self._vocab))
            return np.fromiter((self._vocab[t] for t in terms), dtype=np.int32, count=len(terms))
        return np.asarray([self._vocab[t] for t in terms if t in self._vocab], dtype=np.int32)

    def _build(self) -> None:
        """Rebuild the bm25s score matrix from the stored token ids (vectorised; no re-analysis)."""
        self._order = np.sort(self.ids())
        self._model = None
        if len(self._order) and self._vocab:
            arrays = [self._tokens[int(i)] for i in self._order]
            self._model = bm25_model(arrays, len(self._vocab), self.options)
            self._model.vocab_dict = dict(self._vocab)
        self._dirty = False

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted chunk ids int64 (n,), BM25 scores float32 (n,)) of every indexed chunk (0: no term matches)."""
        terms = self.analyzer.terms(query)
        with self._lock:
            if self._dirty:
                self._build()
            encoded = self._encode(terms, grow=False)
            if self._model is None or len(encoded) == 0:
                return self._order, np.zeros(len(self._order), dtype=np.float32)
            return self._order, np.asarray(self._model.get_scores_from_ids(encoded.tolist()), dtype=np.float32)

    def search(self, query: str, k: int, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunks with a positive score, best first: (ids int64 (m,), scores float32 (m,)), m <= k."""
        return top_k(*self.scores(query), k, allowed_ids)

    def candidate_scores(
        self, query: str, k: int, allowed_ids: np.ndarray | None = None, wanted: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The part of :meth:`scores` a fusion of ``k`` lexical candidates reads (see :func:`narrow`)."""
        return narrow(*self.scores(query), k, allowed_ids, wanted)

    def save(self, directory: Path) -> None:
        with self._lock:
            self._save(directory)

    def _save(self, directory: Path) -> None:
        """Write atomically and checksummed, like the vector indexes (core/saveddir.py)."""
        ids = self.ids()
        arrays = [self._tokens[int(i)] for i in ids]
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)

        def write_native(tmp: Path) -> None:
            offsets = np.cumsum([0] + [len(a) for a in arrays], dtype=np.int64)
            tokens = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
            np.savez(tmp / "tokens.npz", ids=ids, offsets=offsets, tokens=tokens)
            (tmp / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")

        manifest = {
            "kind": "bm25",
            "format": FORMAT,
            "dim": 0,
            "params": asdict(self.options),
            "count": len(ids),
            "vocab": len(vocab),
        }
        write_saved_dir(directory, manifest, write_native)

    @classmethod
    def load(cls, directory: Path) -> Bm25Index:
        manifest = read_saved_dir(directory)  # recovers an interrupted swap; checks every file's checksum
        if manifest.get("kind") != "bm25" or manifest.get("format") != FORMAT:
            raise IndexCorrupt(f"{directory}: not a {FORMAT} lexical index")
        try:
            vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
            with np.load(directory / "tokens.npz") as data:
                ids, offsets, tokens = data["ids"], data["offsets"], data["tokens"]
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorrupt(f"{directory}: lexical index unreadable ({exc})") from None
        if len(offsets) != len(ids) + 1 or (len(tokens) and int(tokens.max()) >= len(vocab)):
            raise IndexCorrupt(f"{directory}: lexical index files disagree")
        index = cls(LexicalOptions.from_dict(manifest["params"]))
        index._vocab = {term: i for i, term in enumerate(vocab)}
        index._tokens = {int(c): tokens[offsets[n] : offsets[n + 1]] for n, c in enumerate(ids)}
        return index


def bm25_model(docs: list[np.ndarray], vocab_size: int, options: LexicalOptions) -> Any:
    """A ``bm25s.BM25`` (Lucene variant) over documents given as token-id arrays.

    bm25s's own ``index`` counts terms in a Python loop per document (minutes at 100k chunks on a busy
    machine); the same CSC matrix of per-(term, document) scores is computed here with numpy in one pass,
    and bm25s does the querying. ``tests/search/test_lexical_index.py`` checks both give equal scores.
    """
    import bm25s

    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    tokens = np.concatenate(docs).astype(np.int64) if lengths.sum() else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    keys, tf = np.unique(tokens * len(docs) + owner, return_counts=True)  # sorted by term, then document
    term, doc = keys // len(docs), keys % len(docs)
    df = np.bincount(term, minlength=vocab_size)
    idf = np.log(1.0 + (len(docs) - df + 0.5) / (df + 0.5))
    norm = options.k1 * (1.0 - options.b + options.b * lengths / max(lengths.mean(), 1e-9))
    model = bm25s.BM25(k1=options.k1, b=options.b, method="lucene")
    model.scores = {
        "data": (idf[term] * tf / (tf + norm[doc])).astype(np.float32),
        "indices": doc.astype(np.int32),
        "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        "num_docs": len(docs),
    }
    model.nonoccurrence_array = None
    return model


def top_k(
    ids: np.ndarray, scores: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best positive-scoring ``ids`` (optionally only ``allowed_ids``), best first, ties by id."""
    at = _top_positions(ids, scores, k, allowed_ids)
    return ids[at], scores[at]


def _top_positions(ids: np.ndarray, scores: np.ndarray, k: int, allowed_ids: np.ndarray | None) -> np.ndarray:
    """Positions of :func:`top_k`'s answer, in its order. Ties at the cut are settled by id, not by where
    ``argpartition`` happened to leave them, so every layout of the same scores gives the same ``k``."""
    keep = scores > 0
    if allowed_ids is not None:
        keep &= np.isin(ids, allowed_ids)
    at = np.flatnonzero(keep)
    if len(at) > k > 0:
        cut = np.partition(-scores[at], k - 1)[k - 1]
        at = at[-scores[at] <= cut]  # the k best and whatever ties with the k-th
    order = np.lexsort((ids[at], -scores[at]))[: max(k, 0)]
    return at[order]


def narrow(
    ids: np.ndarray, scores: np.ndarray, k: int, allowed_ids: np.ndarray | None = None, wanted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Of a (sorted ids, scores) pair, only what a fusion of ``k`` lexical candidates reads: the :func:`top_k`
    chunks (among ``allowed_ids``) and the ``wanted`` ids (e.g. the dense candidates) with a positive score;
    still sorted by id. ``top_k`` of the result equals ``top_k`` of the whole, and ``lookup`` of any of those
    ids gives the same score, so a shard can send this instead of every chunk that matches a query term."""
    at = _top_positions(ids, scores, k, allowed_ids)
    if wanted is not None and len(wanted) and len(ids):
        wanted = np.asarray(wanted, dtype=np.int64)
        found = np.clip(np.searchsorted(ids, wanted), 0, len(ids) - 1)
        found = found[(ids[found] == wanted) & (scores[found] > 0)]
        at = np.concatenate([at, found])
    at = np.unique(at)
    return ids[at], scores[at]


def lookup(ids: np.ndarray, scores: np.ndarray, wanted: list[int]) -> dict[int, float]:
    """Scores of ``wanted`` ids from a (sorted ids, scores) pair; ids not present are left out."""
    wanted_arr = np.asarray(wanted, dtype=np.int64)
    at = np.clip(np.searchsorted(ids, wanted_arr), 0, max(len(ids) - 1, 0))
    found = (at < len(ids)) & (ids[at] == wanted_arr) if len(ids) else np.zeros(len(wanted_arr), dtype=bool)
    return {int(i): float(scores[a]) for i, a, f in zip(wanted_arr, at, found, strict=True) if f}
