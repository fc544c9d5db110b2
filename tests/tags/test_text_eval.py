"""The labelled evaluation set and the thresholds every built-in scenario must reach."""

from __future__ import annotations

import json

import pytest

from siyu.tags.text import evaluate, load_dataset, load_lexicon

SCENARIOS = sorted(load_lexicon().scenarios)


@pytest.fixture(scope="module")
def report():
    return evaluate()


def test_dataset_shape():
    rows = load_dataset()
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["text"] for r in rows}) == len(rows)
    holdout = [r for r in rows if r["split"] == "holdout"]
    # the h… holdout (101, never tuned on) was 10 % of the set until round 3 added the former
    # blind set and that round's messages as dev data; new text is now measured on separate
    # blind files (eval/blind_v3.jsonl), so the shipped holdout stays at its size
    assert len(holdout) >= 100
    for r in rows:
        assert set(r["labels"]) <= set(SCENARIOS), r
    assert sum(1 for r in rows if not r["labels"]) >= 80  # negatives and near-misses
    assert sum(1 for r in rows if len(r["labels"]) > 1) >= 20  # multi-label messages


def test_report_is_json_ready(report):
    again = json.loads(json.dumps(report, ensure_ascii=False))
    assert again == report
    assert set(report["splits"]) == {"dev", "holdout"}
    assert set(report["scenarios"]) == set(SCENARIOS)
    assert {"precision", "recall", "f1", "support"} <= set(report["micro"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_reaches_090_on_the_set(report, scenario):
    s = report["scenarios"][scenario]
    assert s["precision"] >= 0.9, s
    assert s["recall"] >= 0.9, s


def test_holdout_precision(report):
    """The holdout split was written after the lexicon was frozen. Its precision holds; its
    recall is lower (new phrasings the lexicon lacks) and is reported, not asserted."""
    assert report["splits"]["holdout"]["micro"]["precision"] >= 0.9


def test_evaluate_accepts_a_list_and_counts_exactly():
    rows = [
        {"id": "1", "text": "快用完了", "labels": ["cycle_due"], "split": "dev"},
        {"id": "2", "text": "好的", "labels": ["cycle_due"], "split": "dev"},
        {"id": "3", "text": "太贵了", "labels": [], "split": "dev"},
    ]
    r = evaluate(rows)
    assert r["scenarios"]["cycle_due"] | {} == {
        "precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "tp": 1, "fp": 0, "fn": 1,
    }  # fmt: skip
    assert r["scenarios"]["price_sensitive"]["fp"] == 1
    assert len(r["errors"]) == 2


def test_blind_set_shape():
    """The former blind set v2 (docs/tags.md) ships whole: 280 messages, 30±1 per label. Round 3
    tuned on it, so it is "dev" now, and its messages are in the shipped set with their ids."""
    from collections import Counter
    from importlib import resources

    path = resources.files("siyu.tags.text").joinpath("eval/blind_v2.jsonl")
    rows = load_dataset(str(path))
    assert len(rows) == 280 and len({r["id"] for r in rows}) == 280
    assert {r["split"] for r in rows} == {"dev"}
    labels = Counter(label for r in rows for label in r["labels"])
    assert set(labels) == set(SCENARIOS) and all(29 <= n <= 31 for n in labels.values())
    assert sum(1 for r in rows if not r["labels"]) == 107
    shipped = load_dataset()
    copied = {r["id"]: r for r in shipped if r.get("origin") == "blind_v2"}
    assert len(copied) == 273  # 7 of its texts were in the set already: kept once
    texts = {r["text"]: r for r in shipped}
    for r in rows:
        same = copied.get(r["id"]) or texts[r["text"]]
        assert (same["text"], sorted(same["labels"])) == (r["text"], sorted(r["labels"]))


def test_blind_set_v3_is_a_separate_holdout():
    """Blind set v3 (docs/tags.md) ships whole and apart: 280 holdout messages, none of them
    in the shipped set (it must not be tuned on)."""
    from collections import Counter
    from importlib import resources

    rows = load_dataset(str(resources.files("siyu.tags.text").joinpath("eval/blind_v3.jsonl")))
    assert len(rows) == 280 and {r["split"] for r in rows} == {"holdout"}
    labels = Counter(label for r in rows for label in r["labels"])
    assert set(labels) == set(SCENARIOS) and all(29 <= n <= 33 for n in labels.values())
    assert sum(1 for r in rows if not r["labels"]) == 96
    shipped = {r["text"] for r in load_dataset()}
    # three short, common messages were written independently in both (多少钱？ d146,
    # 价格能再美丽一点吗 w241, 维生素D一粒多少IU from blind v2), all before round 3
    assert {r["id"] for r in rows if r["text"] in shipped} == {"x058", "x142", "x232"}
