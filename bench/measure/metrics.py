"""Every score is computed here, in numpy, from logits: both frameworks alike.

The confusion matrix and macro-F1 are a few lines of numpy (scikit-learn gives the same figures, which a
test checks; importing it cost every trial process 0.9 s)."""

from __future__ import annotations

import numpy as np


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy, computed stably in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are the truth."""
    pairs = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def macro_f1(matrix: np.ndarray) -> float:
    """The unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN); 0 for a class never true nor predicted."""
    true_positives = matrix.diagonal().astype(np.float64)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # = 2 TP + FP + FN
    f1 = np.divide(2 * true_positives, denominator, out=np.zeros_like(true_positives), where=denominator > 0)
    return float(f1.mean())


def scores(logits: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, loss, macro-F1, per-class accuracy (recall) and the confusion matrix (rows: truth)."""
    predicted = logits.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(class_names))
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "loss": cross_entropy(logits, labels),
        "macro_f1": macro_f1(matrix),
        "per_class_accuracy": {name: float(a) for name, a in zip(class_names, per_class)},
        "confusion_matrix": matrix.tolist(),
    }
