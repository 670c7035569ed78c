"""Every score is computed here, in numpy and scikit-learn, from logits: both frameworks alike."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy, computed stably in float64."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def scores(logits: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, loss, macro-F1, per-class accuracy (recall) and the confusion matrix (rows: truth)."""
    predicted = logits.argmax(axis=1)
    classes = np.arange(len(class_names))
    matrix = confusion_matrix(labels, predicted, labels=classes)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "loss": cross_entropy(logits, labels),
        "macro_f1": float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
        "per_class_accuracy": {name: float(a) for name, a in zip(class_names, per_class)},
        "confusion_matrix": matrix.tolist(),
    }
