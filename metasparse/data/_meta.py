"""Cheap meta-features of a training split, for meta-learning across datasets."""

from __future__ import annotations

import math

import numpy as np

_CHUNK_ELEMENTS = 1 << 21


def meta_features(X: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, float]:
    """Size, class-balance and feature-distribution statistics of (X, y), as plain floats.

    Skewness and kurtosis are averaged over the non-constant features only (0 when there are none).
    """
    n_samples, n_features = X.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    stats = _feature_moments(X)
    varying = ~stats["constant"]
    return {
        "n_samples": float(n_samples),
        "n_features": float(n_features),
        "n_classes": float(n_classes),
        "log_n_samples": math.log(n_samples),
        "log_n_features": math.log(n_features),
        "features_per_sample": n_features / n_samples,
        "samples_per_class": n_samples / n_classes,
        "class_entropy": _normalized_entropy(counts),
        "class_balance": float(counts.min() / counts.max()),
        "mean_feature_std": float(stats["std"].mean()),
        "mean_abs_skew": _mean(np.abs(stats["skew"][varying])),
        "mean_kurtosis": _mean(stats["kurtosis"][varying]),
        "constant_feature_fraction": float(1.0 - varying.mean()),
        "zero_fraction": float(stats["zeros"] / X.size),
    }


def _normalized_entropy(counts: np.ndarray) -> float:
    """Shannon entropy of the class distribution divided by its maximum, log(n_classes)."""
    if len(counts) < 2:
        return 1.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(len(counts)))


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else 0.0


def _feature_moments(X: np.ndarray) -> dict[str, np.ndarray]:
    """Per-feature std, skewness and excess kurtosis in two passes over row chunks."""
    n_samples, n_features = X.shape
    step = max(1, _CHUNK_ELEMENTS // max(1, n_features))
    chunks = [slice(start, start + step) for start in range(0, n_samples, step)]
    total = np.zeros(n_features)
    low = np.full(n_features, np.inf)
    high = np.full(n_features, -np.inf)
    zeros = 0
    for rows in chunks:
        part = np.asarray(X[rows], dtype=np.float64)
        total += part.sum(axis=0)
        low = np.minimum(low, part.min(axis=0))
        high = np.maximum(high, part.max(axis=0))
        zeros += int(np.count_nonzero(part == 0))
    mean = total / n_samples
    m2, m3, m4 = np.zeros(n_features), np.zeros(n_features), np.zeros(n_features)
    for rows in chunks:
        centered = np.asarray(X[rows], dtype=np.float64) - mean
        squared = centered * centered
        m2 += squared.sum(axis=0)
        m3 += (squared * centered).sum(axis=0)
        m4 += (squared * squared).sum(axis=0)
    var = m2 / n_samples
    constant = low == high
    safe_var = np.where(constant, 1.0, var)
    return {
        "std": np.sqrt(var),
        "skew": np.where(constant, 0.0, m3 / n_samples / safe_var**1.5),
        "kurtosis": np.where(constant, 0.0, m4 / n_samples / safe_var**2 - 3.0),
        "constant": constant,
        "zeros": np.asarray(zeros),
    }
