"""Control metrics: class accuracy, Hungarian-matched code accuracy, reference classifiers."""

import itertools

import numpy as np
import pytest

from ganzoo.data.digits import digits_arrays
from ganzoo.metrics import control


def test_class_accuracy():
    assert control.class_accuracy([1, 2, 3, 3], [1, 2, 0, 3]) == 0.75
    with pytest.raises(ValueError, match="must both be"):
        control.class_accuracy([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="No predictions"):
        control.class_accuracy([], [])


def test_confusion_matrix_counts():
    m = control.confusion_matrix([0, 0, 1, 2, 2, 2], [1, 1, 0, 2, 2, 0], 3, 3)
    np.testing.assert_array_equal(m, [[0, 2, 0], [1, 0, 0], [1, 0, 2]])


def test_matched_accuracy_recovers_a_permutation():
    perm = np.array([3, 0, 4, 1, 2])
    codes = np.repeat(np.arange(5), 7)
    accuracy, mapping, _ = control.matched_accuracy(codes, perm[codes], 5, 5)
    assert accuracy == 1.0
    assert mapping == {i: int(p) for i, p in enumerate(perm)}


def test_matched_accuracy_equals_brute_force_over_permutations():
    rng = np.random.default_rng(0)
    for _ in range(5):
        codes, predicted = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
        predicted[:80] = (codes[:80] + 2) % 5  # some structure
        confusion = control.confusion_matrix(codes, predicted, 5, 5)
        best = max(sum(confusion[i, p[i]] for i in range(5))
                   for p in itertools.permutations(range(5)))
        accuracy, mapping, _ = control.matched_accuracy(codes, predicted, 5, 5)
        assert accuracy == pytest.approx(best / 200)
        assert sorted(mapping.values()) == list(range(5))  # one-to-one


def test_extra_code_values_count_as_errors():
    # Codes 0 and 1 both draw class 0: only one of them can be matched to it.
    accuracy, mapping, _ = control.matched_accuracy([0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 1, 1], 3, 2)
    assert accuracy == pytest.approx(4 / 6)
    assert len(mapping) == 2


class _StubClassifier(control.ReferenceClassifier):
    """Reads the class from the image's first pixel."""

    def __init__(self, num_classes=4):
        super().__init__("stub", lambda x: np.rint(x[:, 0, 0, 0] * 10).astype(int), num_classes)


class _StubConditional:
    num_classes = 4

    def generate(self, n, seed=0, labels=None):
        labels = np.asarray(labels)
        drawn = np.where(labels == 3, 1, labels)  # never draws a 3: draws a 1 instead
        return np.broadcast_to(drawn[:, None, None, None] / 10, (n, 2, 2, 1)).copy()


class _StubInfoGAN:
    num_categories, num_continuous = 4, 2
    permutation = np.array([2, 3, 0, 1])

    def generate(self, n, seed=0, codes=None):
        assert codes["continuous"].shape == (n, 2) and np.all(np.abs(codes["continuous"]) <= 1)
        drawn = self.permutation[np.asarray(codes["categorical"])]
        return np.broadcast_to(drawn[:, None, None, None] / 10, (n, 2, 2, 1)).copy()


def test_conditional_class_accuracy_on_a_stub():
    result = control.conditional_class_accuracy(_StubConditional(), _StubClassifier(), per_class=5)
    assert result["class_accuracy"] == 0.75
    assert result["per_class_accuracy"] == [1.0, 1.0, 1.0, 0.0]
    assert result["num_samples"] == 20


def test_categorical_code_accuracy_on_a_stub():
    result = control.categorical_code_accuracy(_StubInfoGAN(), _StubClassifier(), per_value=5)
    assert result["code_accuracy"] == 1.0
    assert result["code_to_class"] == {0: 2, 1: 3, 2: 0, 3: 1}
    assert np.trace(np.asarray(result["confusion"])) == 0  # identity matching would score 0


def test_reference_classifiers_recognise_real_digits():
    images, labels = digits_arrays("test", 16)
    cnn = control.reference_classifier("digits")
    assert "DigitsClassifierExtractor" in cnn.name
    assert control.class_accuracy(cnn.predict(images), labels) > 0.97
    train_images, train_labels = digits_arrays("train", 16)
    lr = control.pixel_logistic_regression(train_images, train_labels)
    assert control.class_accuracy(lr.predict(images), labels) > 0.9
