"""The BM25 index contract (index/lexical.py): add, search, update, remove, analysis, save/load, corruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import IndexCorrupt, InvalidInput
from index.lexical import Analyzer, Bm25Index, LexicalOptions

TEXTS = {
    1: "The cats are running across the garden.",
    2: "A dog barked at the mailman.",
    3: "Running shoes for marathon runners.",
    4: "Quantum chromodynamics and the strong force.",
}


def build(options: LexicalOptions | None = None) -> Bm25Index:
    index = Bm25Index(options)
    index.add(np.array(list(TEXTS), dtype=np.int64), list(TEXTS.values()))
    return index


def test_english_analysis_lowercases_stems_and_drops_stop_words() -> None:
    assert Analyzer(LexicalOptions()).terms("The Cats are RUNNING") == ["cat", "run"]
    plain = Analyzer(LexicalOptions(stemmer="none", stopwords="none"))
    assert plain.terms("The Cats are RUNNING") == ["the", "cats", "are", "running"]


def test_search_ranks_matching_chunks_and_respects_allowed_ids() -> None:
    index = build()
    ids, scores = index.search("run", 10)
    assert set(ids.tolist()) == {1, 3}  # stemming: "running", "runners" → "run"/"runner"
    assert np.all(np.diff(scores) <= 0) and ids.dtype == np.int64
    ids, _ = index.search("running", 10, allowed_ids=np.array([1, 2]))
    assert ids.tolist() == [1]
    assert index.search("the", 10)[0].tolist() == []  # only stop words: nothing matches
    assert index.search("zeppelin", 10)[0].tolist() == []
    assert len(index.search("running shoes garden", 1)[0]) == 1


def test_update_and_remove_are_reflected() -> None:
    index = build()
    index.add([2], ["Marathon training plan."])  # same id: replaced
    assert index.search("dog", 10)[0].tolist() == []
    assert 2 in index.search("marathon", 10)[0].tolist()
    index.remove(np.array([3, 99]))
    assert index.search("shoes", 10)[0].tolist() == []
    assert sorted(index.ids().tolist()) == [1, 2, 4] and len(index) == 3


def test_save_load_roundtrip_and_empty_index(tmp_path: Path) -> None:
    index = build(LexicalOptions(stemmer="none"))
    before = index.search("running shoes", 10)
    index.save(tmp_path / "lex")
    loaded = Bm25Index.load(tmp_path / "lex")
    assert loaded.options == LexicalOptions(stemmer="none")
    after = loaded.search("running shoes", 10)
    assert after[0].tolist() == before[0].tolist()
    np.testing.assert_allclose(after[1], before[1], rtol=1e-6)
    empty = Bm25Index()
    assert empty.search("anything", 5)[0].tolist() == []
    empty.save(tmp_path / "empty")
    assert len(Bm25Index.load(tmp_path / "empty")) == 0


def test_corrupt_or_missing_files_raise_index_corrupt(tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt):
        Bm25Index.load(tmp_path / "missing")
    build().save(tmp_path / "lex")
    (tmp_path / "lex" / "vocab.json").write_text("[]")
    with pytest.raises(IndexCorrupt, match="checksum"):
        Bm25Index.load(tmp_path / "lex")


def test_a_save_killed_between_its_two_renames_is_recovered_and_saving_again_works(tmp_path: Path) -> None:
    directory = tmp_path / "lex"
    build().save(directory)
    directory.rename(tmp_path / ".lex.old-deadbeef")  # the old copy moved aside, the new one never arrived
    assert len(Bm25Index.load(directory)) == len(TEXTS)  # the backup is put back
    (tmp_path / ".lex.old-cafe").mkdir()  # a leftover from another interrupted save
    (tmp_path / ".lex.old-cafe" / "junk").write_text("x")
    grown = Bm25Index.load(directory)
    grown.add(np.array([9], dtype=np.int64), ["marathon training plan"])
    grown.save(directory)
    assert Bm25Index.load(directory).search("marathon", 5)[0].tolist()[0] in (3, 9)
    assert len(Bm25Index.load(directory)) == len(TEXTS) + 1


def test_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInput, match="stemmer"):
        LexicalOptions.from_dict({"stemmer": "klingon"})
    with pytest.raises(InvalidInput, match="unknown lexical option"):
        LexicalOptions.from_dict({"colour": "blue"})
    with pytest.raises(InvalidInput):
        Bm25Index().add([1, 2], ["one text"])


def test_top_k_and_lookup_helpers() -> None:
    from index.lexical import lookup, top_k

    ids = np.array([2, 5, 7, 9], dtype=np.int64)
    scores = np.array([0.5, 0.0, 2.0, 0.5], dtype=np.float32)
    assert top_k(ids, scores, 10)[0].tolist() == [7, 2, 9]  # zero dropped, ties by id
    assert top_k(ids, scores, 2, allowed_ids=np.array([9, 5]))[0].tolist() == [9]
    assert lookup(ids, scores, [9, 3, 2, 11]) == {9: 0.5, 2: 0.5}
    assert lookup(ids[:0], scores[:0], [1]) == {}


def test_vectorised_matrix_equals_bm25s_own_index() -> None:
    import bm25s

    from index.lexical import bm25_model

    rng = np.random.default_rng(3)
    docs = [rng.integers(0, 40, size=rng.integers(1, 30)).astype(np.int32) for _ in range(50)]
    options = LexicalOptions(k1=1.3, b=0.6)
    ours = bm25_model(docs, 40, options)
    reference = bm25s.BM25(k1=1.3, b=0.6, method="lucene")
    vocab = {str(i): i for i in range(40)}
    reference.index(([d.tolist() for d in docs], vocab), create_empty_token=False, show_progress=False)
    for query in ([0], [3, 17, 39], [5, 5, 12]):
        np.testing.assert_allclose(ours.get_scores_from_ids(query), reference.get_scores_from_ids(query), rtol=1e-5)


def test_top_k_settles_ties_at_the_cut_by_id() -> None:
    from index.lexical import top_k

    # argpartition leaves an arbitrary subset of the tied chunks at the cut; a sharded search, whose shards
    # cut first, must give the same k as one index: always the smallest ids among the ties
    rng = np.random.default_rng(1)
    ids = np.arange(40, dtype=np.int64)
    scores = rng.choice([1.0, 2.0], 40).astype(np.float32)
    assert top_k(ids, scores, 10)[0].tolist() == ids[np.lexsort((ids, -scores))][:10].tolist()


def _corpus_index(kind: type[Bm25Index]) -> Bm25Index:
    rng = np.random.default_rng(5)
    words = "comet star orbit river bread oven yeast storm gene cell".split()
    index = kind()
    index.add(np.arange(1, 301, dtype=np.int64), [" ".join(rng.choice(words, rng.integers(2, 9))) for _ in range(300)])
    return index


def test_candidate_scores_keep_what_fusion_reads_of_the_score_vector() -> None:
    from index.lexical import lookup, top_k
    from index.lexical_shard import ShardBm25

    index, shard = _corpus_index(Bm25Index), _corpus_index(ShardBm25)
    allowed = np.arange(1, 301, 3, dtype=np.int64)
    wanted = np.array([4, 8, 15, 16, 23, 42, 999], dtype=np.int64)
    for query in ("comet", "star orbit storm", "bread bread gene", "zeppelin"):
        every = index.scores(query)
        for k, allow in ((5, None), (12, allowed), (1000, None)):
            ids, scores = index.candidate_scores(query, k, allow, wanted)
            assert np.all(np.diff(ids) > 0) and np.all(scores > 0)
            assert len(ids) <= min(k, int((every[1] > 0).sum())) + len(wanted)  # not every matching chunk
            for got, want in zip(top_k(ids, scores, k, allow), top_k(*every, k, allow), strict=True):
                np.testing.assert_array_equal(got, want)
            matching = {w: s for w, s in lookup(*every, wanted.tolist()).items() if s}
            assert lookup(ids, scores, wanted.tolist()) == matching
            # a shard scored with its own statistics is the whole index: the same answer
            stats = shard.term_stats(query)
            shard_ids, shard_scores = shard.candidate_scores_with(query, stats, k, allow, wanted)
            np.testing.assert_array_equal(shard_ids, ids)
            np.testing.assert_allclose(shard_scores, scores, rtol=1e-6)
