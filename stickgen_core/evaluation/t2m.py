"""Text-to-motion metrics of the HumanML3D / T2M papers, from evaluator embeddings.

R-precision: motions and their texts are cut into groups of 32; a motion's own text
should be among the k nearest (Euclidean) of the group's 32 texts. FID: Frechet
distance of two sets of motion embeddings (Gaussian fits). Diversity: mean distance of
random motion pairs. Multimodality: mean distance between motions generated for the
same text. MM-distance: mean distance between a motion and its own text.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

R_PRECISION_GROUP = 32


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]``."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def r_precision(motion: np.ndarray, text: np.ndarray, top_k: int = 3, group: int = R_PRECISION_GROUP,
                seed: int = 0) -> np.ndarray:
    """Top-1..top_k retrieval accuracy of each motion's own text within groups of ``group``.

    Rows of ``motion`` and ``text`` pair up. The remainder that does not fill a group is
    folded into the last one, so every clip counts. Chance is ``k / group``.
    """
    n = len(motion)
    order = np.random.default_rng(seed).permutation(n)
    g = min(group, n)
    hits = np.zeros(top_k)
    starts = list(range(0, n - g + 1, g)) or [0]
    for i, s in enumerate(starts):
        idx = order[s: (s + g if i < len(starts) - 1 else n)]
        d = pairwise_distances(motion[idx], text[idx])
        rank = (d < np.diag(d)[:, None]).sum(1)  # texts strictly nearer than the own one
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    return hits / n


def r_precision_chance(n: int, top_k: int = 3, group: int = R_PRECISION_GROUP) -> np.ndarray:
    return np.arange(1, top_k + 1) / min(group, n)


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two embedding sets ``[N, D]``."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():  # near-singular product: regularise as the T2M code does
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(max(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean), 0.0))


def diversity(motion: np.ndarray, pairs: int = 300, seed: int = 0) -> float:
    """Mean distance between ``pairs`` random pairs of distinct motions."""
    n = len(motion)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, pairs)
    b = (a + rng.integers(1, n, pairs)) % n  # never the same clip
    return float(np.linalg.norm(motion[a] - motion[b], axis=1).mean())


def multimodality(groups: np.ndarray) -> float:
    """``groups`` ``[texts, K, D]``: mean distance between generations of the same text (K >= 2)."""
    if groups.ndim != 3 or groups.shape[1] < 2:
        return float("nan")
    K = groups.shape[1]
    d = np.linalg.norm(groups[:, :, None] - groups[:, None, :], axis=-1)
    return float(d.sum((1, 2)).mean() / (K * (K - 1)))


def mm_distance(motion: np.ndarray, text: np.ndarray) -> float:
    """Mean distance between each motion and its own text."""
    return float(np.linalg.norm(motion - text, axis=1).mean())
