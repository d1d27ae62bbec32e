"""Where the model looked: per-block and per-head attention, and attention rollout.

Every function takes the attention that ``RBTransformer(x, return_attention=True)`` returns,
shaped ``(..., depth, heads, E, E)`` (any leading dimensions, e.g. windows), or a single
electrode x electrode map ``(..., E, E)``. Row ``i`` of a map says where electrode ``i`` looks
(its query weights over the keys, summing to 1); column ``j`` says who looks at electrode ``j``.
They accept numpy arrays or torch tensors and return numpy arrays.
"""

from __future__ import annotations

import numpy as np


def _as_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor, on any device or dtype
        a = a.detach().float().cpu().numpy()
    a = np.asarray(a)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float32)


def _check_blocks(att) -> np.ndarray:
    att = _as_numpy(att)
    if att.ndim < 4 or att.shape[-1] != att.shape[-2]:
        raise ValueError("expected attention of shape (..., depth, heads, electrodes, "
                         f"electrodes); got {att.shape}")
    return att


def _check_map(a) -> np.ndarray:
    a = _as_numpy(a)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"expected an attention map of shape (..., electrodes, electrodes); "
                         f"got {a.shape}")
    return a


def head_mean(att) -> np.ndarray:
    """The mean over heads: ``(..., depth, heads, E, E)`` -> ``(..., depth, E, E)``."""
    return _check_blocks(att).mean(axis=-3)


def attention_rollout(att, residual: bool = True) -> np.ndarray:
    """Attention rolled out through all blocks (Abnar & Zuidema, 2020).

    Each block's heads are averaged; with ``residual`` the identity is added for the skip
    connection and the rows renormalised (``0.5 A + 0.5 I``); the blocks are then multiplied,
    later blocks on the left: ``R = Â_depth ··· Â_2 Â_1``. Row ``i`` of ``R`` is how much
    electrode ``i``'s final token draws on each input electrode; rows sum to 1.

    ``(..., depth, heads, E, E)`` -> ``(..., E, E)``.
    """
    a = head_mean(att)
    if residual:
        a = a + np.eye(a.shape[-1], dtype=a.dtype)
        a = a / a.sum(axis=-1, keepdims=True)
    rollout = a[..., 0, :, :]
    for block in range(1, a.shape[-3]):
        rollout = a[..., block, :, :] @ rollout
    return rollout


def select_attention(att, block="rollout", head="mean") -> np.ndarray:
    """One electrode x electrode map from ``(..., depth, heads, E, E)``.

    Parameters
    ----------
    block : "rollout" or int
        A block index (negative counts from the last) or the rollout through all blocks.
    head : "mean" or int
        A head index, or the mean over heads. The rollout is defined on the head mean only.

    Returns
    -------
    ndarray, shape (..., E, E)
    """
    att = _check_blocks(att)
    depth, heads = att.shape[-4], att.shape[-3]
    if isinstance(block, str):
        if block != "rollout":
            raise ValueError(f"block must be 'rollout' or a block index; got {block!r}")
        if head != "mean":
            raise ValueError("the rollout averages the heads; use head='mean' with it or pick "
                             "a block")
        return attention_rollout(att)
    if not -depth <= int(block) < depth:
        raise ValueError(f"block must be in [0, {depth}) or 'rollout'; got {block}")
    if isinstance(head, str):
        if head != "mean":
            raise ValueError(f"head must be 'mean' or a head index; got {head!r}")
        return att[..., int(block), :, :, :].mean(axis=-3)
    if not -heads <= int(head) < heads:
        raise ValueError(f"head must be in [0, {heads}) or 'mean'; got {head}")
    return att[..., int(block), int(head), :, :]


def attention_received(a) -> np.ndarray:
    """Mean attention each electrode receives from all queries (the column mean), ``(..., E)``.

    For row-stochastic maps these sum to 1 over electrodes.
    """
    return _check_map(a).mean(axis=-2)


def attention_sent(a) -> np.ndarray:
    """Attention each electrode pays to the other electrodes (1 - its diagonal), ``(..., E)``."""
    return 1.0 - np.diagonal(_check_map(a), axis1=-2, axis2=-1)


def electrode_row(a, i: int) -> np.ndarray:
    """Where electrode ``i`` looks: row ``i``, ``(..., E)``."""
    return _check_map(a)[..., i, :]


def electrode_column(a, i: int) -> np.ndarray:
    """Who looks at electrode ``i``: column ``i``, ``(..., E)``."""
    return _check_map(a)[..., :, i]


def top_pairs(a, k: int = 10, threshold: float | None = None, exclude_self: bool = True,
              symmetric: bool = False, names=None) -> list[tuple]:
    """The ``k`` strongest electrode pairs of one ``(E, E)`` map, strongest first.

    Returns ``(i, j, weight)`` with ``weight = a[i, j]`` (query ``i`` attends to key ``j``),
    for drawing lines on the scalp; with ``names`` (one per electrode), ``(name_i, name_j,
    weight)``. ``threshold`` keeps only weights at or above it.
    ``symmetric`` scores each unordered pair by ``(a[i, j] + a[j, i]) / 2`` and returns it once,
    with ``i < j``. Ties are broken by (i, j) so that the order is reproducible.
    """
    a = _check_map(a)
    if a.ndim != 2:
        raise ValueError(f"top_pairs takes a single (E, E) map; got shape {a.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0; got {k}")
    n = a.shape[0]
    if symmetric:
        a = (a + a.T) / 2
        i, j = np.triu_indices(n, k=1 if exclude_self else 0)
    else:
        i, j = np.nonzero(~np.eye(n, dtype=bool)) if exclude_self else np.indices((n, n)).reshape(
            2, -1)
    w = a[i, j]
    keep = np.isfinite(w) if threshold is None else np.isfinite(w) & (w >= threshold)
    i, j, w = i[keep], j[keep], w[keep]
    order = np.lexsort((j, i, -w))[:k]
    if names is not None:
        if len(names) != n:
            raise ValueError(f"names has {len(names)} entries for {n} electrodes")
        return [(names[i[o]], names[j[o]], float(w[o])) for o in order]
    return [(int(i[o]), int(j[o]), float(w[o])) for o in order]
