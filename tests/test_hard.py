"""The hard-digits page: mistakes, confident-learning label issues, closest calls."""
from __future__ import annotations

import json
import re

import numpy as np

from generator.models.cross_validation import fold_of, label_issues
from generator.pages.hard import closest_calls, held_out_label_issues, misclassified


def test_folds_are_stratified_and_seeded():
    labels = np.repeat(np.arange(10), 40)
    folds = fold_of(labels, 4, seed=1)
    assert (np.bincount(folds) == 100).all()
    for digit in range(10):
        assert (np.bincount(folds[labels == digit]) == 10).all()
    assert (fold_of(labels, 4, seed=1) == folds).all() and not (fold_of(labels, 4, seed=2) == folds).all()


def one_hot_probs(labels: np.ndarray, confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(labels), 10), (1 - confidence) / 9)
    probs[np.arange(len(labels)), labels] = confidence
    return probs


def test_confident_learning_flags_a_flipped_label():
    labels = np.repeat(np.arange(10), 20)
    probs = one_hot_probs(labels)
    # Digit 5 is labelled 3 but the model is sure it is a 5; digit 7 is merely uncertain.
    given = labels.copy()
    given[105] = 3
    probs[7] = np.full(10, 0.1)
    ranked, suggested, thresholds = label_issues(probs, given)
    assert list(ranked) == [105]
    assert suggested[105] == 5
    assert thresholds[3] < 0.9 and abs(thresholds[5] - 0.9) < 1e-9


def test_label_issues_are_ranked_by_contradiction():
    labels = np.repeat(np.arange(10), 20)
    probs = one_hot_probs(labels)
    given = labels.copy()
    given[[20, 40]] = 9
    probs[20] = one_hot_probs(np.array([1]), 0.95)[0]
    probs[40] = one_hot_probs(np.array([2]), 0.92)[0]
    ranked, _, _ = label_issues(probs, given)
    assert list(ranked) == [20, 40]


def test_misclassified_grouped_by_truth_most_confident_first():
    labels = np.array([0, 0, 1, 1, 2])
    probs = np.array([one_hot_probs(np.array([p]), c)[0] for p, c in [(3, .6), (4, .9), (1, .9), (7, .8), (2, .9)]])
    assert list(misclassified(probs, labels)) == [1, 0, 3]


def test_closest_calls_are_right_with_the_smallest_margin():
    labels = np.array([0, 1, 2])
    probs = np.array([[.5, .45] + [.05 / 8] * 8, [.1, .9] + [0] * 8, [.4, .0, .6] + [0] * 7])
    assert list(closest_calls(probs, labels, 2)) == [0, 2]


def test_held_out_label_issues_need_a_unanimous_other_reading():
    """A digit is flagged when its label's mean probability is under the class average and every classifier reads
    the same other digit; a split reading or a confident label is not flagged."""
    labels = np.repeat(np.arange(10), 5)
    sure = np.eye(10)[labels] * 0.98 + 0.002
    first, second = sure.copy(), sure.copy()
    for probs, reading in ((first, 6), (second, 6)):          # digit 25 (a 5): both classifiers read a 6
        probs[25] = np.eye(10)[reading] * 0.9 + 0.01
    first[30], second[30] = np.eye(10)[0] * 0.9 + 0.01, np.eye(10)[8] * 0.9 + 0.01      # a 6 read as 0 and as 8
    first[40] = np.eye(10)[1] * 0.9 + 0.01                    # an 8 read as 1 by one classifier only
    ranked, suggested = held_out_label_issues({"a": first, "b": second}, labels)
    assert list(ranked) == [25] and suggested[25] == 6
    assert held_out_label_issues({"a": sure, "b": sure}, labels)[0].size == 0


def test_hard_page_manifest(quick_build):
    out = quick_build["out"]
    manifest = json.loads((out / "data" / "hard.json").read_text())
    kinds = {item["kind"] for item in manifest["items"]}
    assert {"misclassified", "close-call"} <= kinds
    for item in manifest["items"]:
        assert isinstance(item["index"], int) and 0 <= item["predicted"] <= 9
        if item["kind"] == "misclassified":
            assert item["predicted"] != item["label"]
        if item["kind"] == "close-call":
            assert item["predicted"] == item["label"]
        if item["kind"] == "label-issue":
            assert item["suggested"] != item["label"] and item["p_suggested"] > item["p_given"]
        if item["kind"] in ("misclassified", "test-label-issue"):        # every classifier's answer is shown
            assert sorted(item["votes"]) == ["ensemble-k5", "ensemble-smooth", "ensemble-wide", "judge", "reader"]
        if item["kind"] == "misclassified":
            assert item["votes"]["reader"] == item["predicted"]
        if item["kind"] == "test-label-issue":
            assert item["suggested"] != item["label"] and item["id"] == f"label-{item['split']}-{item['index']}"
            assert item["suggested"] in item["votes"].values()
    html = (out / "hard.html").read_text()
    wrong = [i for i in manifest["items"] if i["kind"] == "misclassified"]
    links = re.findall(r'<a href="#((?:train|test)-\d+)">', html)  # the confusion matrix's cells
    assert links and len(links) == len({(i["label"], i["predicted"]) for i in wrong})
    assert all(f'id="{target}"' in html for target in links)
