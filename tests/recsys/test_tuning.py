"""Tuning on a validation split of the training part: it never sees the test part, its choice is stored
with the version and a refit with the same seed reproduces it; the blend falls back to a component."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import latent.recsys.selection as selection
from latent.recsys.matrix import build_matrix, split_per_user
from latent.recsys.registry import create_model
from latent.recsys.tuning import clear_gain, tune, validation_split
from services.recommendations.training import Tuning
from tests.recsys.blocks import block_matrix

SMALL = Tuning(budget=30.0, max_trials=5)


def block_events() -> list:
    from ingest.readers.interactions import Interaction

    coo = block_matrix().tocoo()
    return [Interaction(f"u{u:02d}", f"i{i:02d}") for u, i in zip(coo.row, coo.col, strict=True)]


def pairs(matrix: sp.csr_matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


@pytest.fixture
def recorded(monkeypatch):  # noqa: ANN001, ANN201
    """Every matrix a model built by the tuner's factory is fitted on."""
    fits: list[sp.csr_matrix] = []

    def factory(name, params):  # noqa: ANN001, ANN202
        model = create_model(name, params)
        original = model.fit

        def fit(user_items, timestamps=None):  # noqa: ANN001, ANN202
            fits.append(sp.csr_matrix(user_items))
            return original(user_items, timestamps)

        model.fit = fit
        return model

    monkeypatch.setattr(selection, "create_model", factory)
    return fits


def test_train_never_hands_test_interactions_to_the_tuner(sqlite_engine, recorded) -> None:  # noqa: ANN001
    sqlite_engine.create_collection("c")
    sqlite_engine.recommendations.ingest_interactions("c", block_events())
    result = sqlite_engine.recommendations.train("c", "ease", tuning=SMALL)
    # The same matrix and test split train() builds: labels sorted, per-user 75/25 with seed 42.
    matrix = block_matrix()
    test = pairs(split_per_user(matrix, 0.25, 42).test)
    assert recorded and test
    assert all(not (pairs(fitted) & test) for fitted in recorded)
    assert all(fitted.nnz < matrix.nnz * 0.75 for fitted in recorded)  # validation folds of the training part
    assert result["metrics"]["tuning"]["searches"][0]["trials"]


def test_a_signal_planted_only_in_the_test_part_does_not_change_the_search(sqlite_engine, monkeypatch) -> None:  # noqa: ANN001
    import services.recommendations.training as training

    real = training.split_per_user
    plant = {"on": False}

    def split(matrix, fraction, seed, timestamps=None):  # noqa: ANN001, ANN202
        result = real(matrix, fraction, seed, timestamps)
        if plant["on"]:  # users of block 0 also "like" block 2, in the test part only
            test = result.test.tolil()
            test[:30, 20:30] = 1.0
            result.test = sp.csr_matrix(test)
        return result

    monkeypatch.setattr(training, "split_per_user", split)
    sqlite_engine.create_collection("c")
    sqlite_engine.recommendations.ingest_interactions("c", block_events())
    runs = []
    for on in (False, True):
        plant["on"] = on
        runs.append(sqlite_engine.recommendations.train("c", "ease", tuning=SMALL))
    assert runs[0]["metrics"]["ndcg@10"] != runs[1]["metrics"]["ndcg@10"]  # the test part did change
    assert runs[0]["params"] == runs[1]["params"]
    assert _same_trials(runs[1], runs[0]["metrics"]["tuning"])


def test_chosen_parameters_are_stored_and_a_refit_with_the_same_seed_reproduces_them(sqlite_engine) -> None:  # noqa: ANN001
    sqlite_engine.create_collection("c")
    sqlite_engine.recommendations.ingest_interactions("c", block_events())
    first = sqlite_engine.recommendations.train("c", "rp3beta", tuning=SMALL)
    second = sqlite_engine.recommendations.train("c", "rp3beta", tuning=SMALL)
    stored = {v["version"]: v for v in sqlite_engine.recommendations.versions("c")}
    record = stored[first["version"]]["metrics"]["tuning"]
    assert stored[first["version"]]["params"] == first["params"]
    assert len(record["searches"][0]["trials"]) == 5 and record["validation"]["confirm_seed"] == 8
    assert 0 <= stored[first["version"]]["metrics"]["validation_ndcg@10"] <= 1
    assert "ndcg@10" in stored[first["version"]]["metrics"]
    assert second["params"] == first["params"]
    assert second["metrics"]["tuning"]["searches"] == record["searches"] or _same_trials(second, record)
    fixed = sqlite_engine.recommendations.train("c", "rp3beta", {"alpha": 0.7, "beta": 0.3}, tuning=SMALL)
    assert fixed["params"]["alpha"] == 0.7 and fixed["params"]["beta"] == 0.3
    assert all(set(t["params"]) == {"top_k"} for t in fixed["metrics"]["tuning"]["searches"][0]["trials"])
    untuned = sqlite_engine.recommendations.train("c", "rp3beta", tuning=Tuning(enabled=False))
    assert "tuning" not in untuned["metrics"] and untuned["params"]["alpha"] == 1.0


def _same_trials(result: dict, record: dict) -> bool:
    """Trials match in everything but their timing."""
    strip = [[{**t, "seconds": 0} for t in s["trials"]] for s in record["searches"]]
    return strip == [[{**t, "seconds": 0} for t in s["trials"]] for s in result["metrics"]["tuning"]["searches"]]


def test_search_starts_at_the_defaults_and_keeps_them_without_a_clear_gain() -> None:
    validation = validation_split(block_matrix(), seed=3)
    search = tune("ease", validation, create_model, budget=30.0, max_trials=4)
    assert search.trials[0]["params"] == {"lambda": 700.0}
    if search.params["lambda"] == 700.0:  # kept: either nothing beat the start, or not clearly (then it says so)
        assert search.note == "" or search.note.startswith("kept the starting parameters")
    assert search.search_score >= search.trials[0]["ndcg@10"] - 1e-6  # on the search fold
    same = np.array([0.5, 0.2, 0.3])
    assert clear_gain(same, same)[0] is False and clear_gain(same + 0.1, same)[0] is True
    assert "is not above one standard error" in clear_gain(same + np.array([0.1, -0.1, 0.01]), same)[1]


def test_blend_that_does_not_beat_its_best_component_gives_way() -> None:
    # Block 0's users only: every component sees the same easy pattern, so ties are likely; the choice must
    # be consistent with the validation scores it records either way.
    matrix = block_matrix()
    found = selection.select("blend", matrix, None, budget=20.0, max_trials=2)
    candidates = found.record["candidates"]
    component = next(name for name in candidates if not name.startswith("blend"))
    assert found.record["chose"] == found.model
    if found.model == component:
        assert component in found.record["reason"] and found.record["validation_ndcg@10"] == candidates[component]
        assert candidates[component] >= min(candidates["blend"], candidates["blend (starting parameters)"])
    else:
        assert found.model == "blend" and set(found.params["weights"]) == set(found.params["models"])
        assert found.record["validation_ndcg@10"] > candidates[component]
    single = build_matrix(np.arange(3), np.arange(3), np.ones(3), (3, 3))  # one item per user: no validation
    untuned = selection.select("ease", single, None, budget=1.0)
    assert untuned.params["lambda"] == 700.0 and "validation split" in untuned.record["note"]
    assert untuned.record["validation_ndcg@10"] is None
