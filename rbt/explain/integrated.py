"""Integrated gradients by Gauss-Legendre quadrature, raised window by window until complete.

Integrated gradients are exact when ``sum(attributions) == f(x) - f(x')`` (completeness); the
quadrature's error shows as that sum's miss, the window's *delta*. Gauss-Legendre with few
points is already complete to float32 precision for most windows of a smooth model (on the
demo checkpoint: 16 points give a median |delta| of 4e-7, against 9.5e-7 for Captum's 50), so
:func:`adaptive_integrated_gradients` starts low and recomputes, with twice the points each
round, only the windows whose |delta| exceeds a tolerance. :class:`IGReport` says how many were
raised and what delta each window ended with.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch


@functools.cache
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (``n`` points; the weights sum to 1)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return (nodes + 1.0) / 2.0, weights / 2.0


def target_outputs(fwd, x: torch.Tensor, target: torch.Tensor, rows: int) -> torch.Tensor:
    """``fwd(x)[i, target[i]]`` for every window, ``rows`` windows per pass, no gradients."""
    out = torch.empty(len(x), dtype=torch.float64, device=x.device)
    with torch.no_grad():
        for s in range(0, len(x), rows):
            y = fwd(x[s: s + rows])
            out[s: s + rows] = y.gather(1, target[s: s + rows, None]).squeeze(1).double()
    return out


def integrated_gradients(fwd, x: torch.Tensor, base: torch.Tensor, target: torch.Tensor,
                         n_steps: int, rows: int) -> torch.Tensor:
    """Integrated gradients with ``n_steps`` Gauss-Legendre points (what Captum's
    ``IntegratedGradients`` computes with ``method="gausslegendre"``), at most about ``rows``
    model inputs (windows x points) per forward and backward pass. ``base`` is one baseline
    per window (or one for all, shape ``(1, ...)``)."""
    alphas, weights = (torch.as_tensor(a, dtype=x.dtype, device=x.device)
                       for a in gauss_legendre(n_steps))
    base = base.expand_as(x)
    shape = x.shape[1:]
    ones = (1,) * len(shape)
    out = torch.zeros_like(x)
    per = max(1, rows // n_steps)  # whole windows per pass
    step_chunk = n_steps if per > 1 else max(1, rows)  # a window's points split when too many
    for s in range(0, len(x), per):
        xs, bs, ts = x[s: s + per], base[s: s + per], target[s: s + per]
        diff = xs - bs
        grad_sum = torch.zeros_like(xs)
        for a0 in range(0, n_steps, step_chunk):
            a, w = alphas[a0: a0 + step_chunk], weights[a0: a0 + step_chunk]
            k = len(a)
            points = (bs[:, None] + a.view(1, k, *ones) * diff[:, None]).reshape(-1, *shape)
            points.requires_grad_()
            with torch.enable_grad():
                y = fwd(points)
                picked = y.gather(1, ts.repeat_interleave(k)[:, None]).sum()
                (grad,) = torch.autograd.grad(picked, points)
            grad_sum += (grad.view(len(xs), k, *shape) * w.view(1, k, *ones)).sum(dim=1)
        out[s: s + per] = diff * grad_sum
    return out


@dataclass
class IGReport:
    """How integrated gradients' windows came out: the points each window ended with and its
    completeness error ``|sum(attributions) - (f(x) - f(x'))|``."""

    n_steps: np.ndarray  # (windows,) int: Gauss-Legendre points used
    delta: np.ndarray  # (windows,) float64: |completeness error| at those points
    start: int  # the points every window got first
    tolerance: float | None  # None: fixed n_steps, never raised

    @property
    def raised(self) -> int:
        """Windows recomputed with more points than ``start``."""
        return int((self.n_steps > self.start).sum())

    @property
    def not_met(self) -> int:
        """Windows still above the tolerance at the most points allowed."""
        return 0 if self.tolerance is None else int((self.delta > self.tolerance).sum())

    @staticmethod
    def join(parts: list[IGReport]) -> IGReport | None:
        """One report for batches' reports, in order (None for none)."""
        if not parts:
            return None
        return IGReport(np.concatenate([p.n_steps for p in parts]),
                        np.concatenate([p.delta for p in parts]), parts[0].start,
                        parts[0].tolerance)

    def per_window(self, n: int) -> IGReport:
        """Folded onto ``n`` windows when the report covers copies of each (SmoothGrad):
        each window's most points and largest delta."""
        if len(self.n_steps) == n or n == 0:
            return self
        k = len(self.n_steps) // n
        return IGReport(self.n_steps.reshape(n, k).max(axis=1),
                        self.delta.reshape(n, k).max(axis=1), self.start, self.tolerance)

    def summary(self) -> str:
        """One line for a command's output."""
        n = len(self.delta)
        worst = float(self.delta.max()) if n else 0.0
        median = float(np.median(self.delta)) if n else 0.0
        text = f"integrated gradients: {self.start} Gauss-Legendre points"
        if self.tolerance is None:
            return text + f" (fixed); completeness |delta| median {median:.1e}, worst {worst:.1e}"
        text += (f", raised where |sum(attr) - (f(x) - f(x'))| > {self.tolerance:g}: "
                 f"{self.raised:,} of {n:,} windows raised")
        if self.raised:
            text += f" (to at most {int(self.n_steps.max())} points)"
        text += f"; |delta| median {median:.1e}, worst {worst:.1e}"
        if self.not_met:
            text += (f"; {self.not_met:,} window(s) still above the tolerance at "
                     f"{int(self.n_steps.max())} points")
        return text


def adaptive_integrated_gradients(fwd, x, base, target, n_steps: int, tolerance: float | None,
                                  max_steps: int, rows: int, fixed=None):
    """Integrated gradients with ``n_steps`` points, then, while some window's |delta| is above
    ``tolerance``, those windows again with twice the points (at most ``max_steps``). ``fixed``
    (default :func:`integrated_gradients`) computes one round. Returns ``(attributions,
    IGReport)``; with ``tolerance=None`` no window is raised."""
    fixed = fixed or integrated_gradients
    base = base.expand_as(x)
    change = target_outputs(fwd, x, target, rows) - target_outputs(fwd, base, target, rows)
    attr = fixed(fwd, x, base, target, n_steps, rows)

    def miss(a, c):
        return (a.reshape(len(a), -1).sum(dim=1, dtype=torch.float64) - c).abs()

    delta = miss(attr, change)
    steps = torch.full((len(x),), n_steps, dtype=torch.int64, device=x.device)
    k = n_steps
    while tolerance is not None and k < max_steps:
        idx = torch.nonzero(delta > tolerance).squeeze(1)
        if not len(idx):
            break
        k = min(2 * k, max_steps)
        again = fixed(fwd, x[idx], base[idx], target[idx], k, rows)
        attr[idx] = again
        delta[idx] = miss(again, change[idx])
        steps[idx] = k
    return attr, IGReport(steps.cpu().numpy(), delta.cpu().numpy(), n_steps, tolerance)
