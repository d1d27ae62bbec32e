"""BDE of the overlapping windows of one continuous signal, each band filtered once.

The reference recipe (:mod:`rbt.bde`) z-scores every window and filters it on its own from zero
state. Windows of 512 samples every 117 overlap 4.4 times, so that recipe filters each sample
4.4 times. Here each band filters the signal once, in blocks of ``L`` samples that divide the
stride (the modal block form of :mod:`rbt.bde`), and a window starting at ``s`` gets its
zero-state response as the signal's response minus the free response of the filter's modal
state there::

    y_w[t] = y[s + t] - Re(sum_k c_k p_k**(t + 1) m_k[s - 1])

Its sum and sum of squares come from per-block sums, per-block moments
``Q_k = sum_t y[bL + t] p_k**t`` and a few constant matrices, so no window is filtered or stored.
The per-window z-score (one mean and std over all channels) is linear, so it is applied
afterwards through the filter's step response. No library computes zero-state responses of
overlapping windows from one pass, hence the hand-written algebra; it gives the same values as
:func:`rbt.bde.band_differential_entropy` (tested to 1e-10) and so the reference's.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import bde

# rows x samples per work item: its block arrays stay a few MB, and a long trial gives a dozen
# items, so that a thread slowed by other work on the machine is not waited for long (SEED's
# 4-min trials: 5 rows an item; 11 before, 14% slower on two shared cores)
_CHUNK_SAMPLES = 1 << 18
_LOOP_BLOCKS = 400  # above this many blocks lfilter's calls cost less than numpy's steps


def sliding_band_differential_entropy(
    signal,
    starts,
    window: int,
    sfreq: float,
    bands: Mapping[str, tuple[float, float]] | None = None,
    order: int = 5,
    *,
    n_jobs: int | None = None,
) -> np.ndarray:
    """BDE of windows cut from one signal, each z-scored and filtered on its own as the
    reference does.

    Parameters
    ----------
    signal : array, shape (n_channels, n_samples)
        One continuous recording (a trial).
    starts : array of int
        First sample of each window. Evenly spaced starts that overlap take the one-pass path;
        others (or a signal with NaN/inf inside the windows) are computed window by window.
    window : int
        Samples per window.
    sfreq, bands, order, n_jobs
        As in :func:`rbt.bde.band_differential_entropy`.

    Returns
    -------
    de : ndarray of float64, shape (n_windows, n_channels, n_bands)
    """
    sig = np.asarray(signal, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    if sig.ndim != 2:
        raise ValueError(f"signal must have shape (channels, samples); got shape {sig.shape}")
    if len(starts) == 0 or starts.min() < 0 or starts.max() + window > sig.shape[1]:
        raise ValueError(f"every window [start, start + {window}) must lie inside the "
                         f"{sig.shape[1]} samples; got starts {starts[:5]}...")
    bands = bde.DEFAULT_BANDS if bands is None else bands
    band_list = tuple((float(lo), float(hi)) for lo, hi in bands.values())
    stride = int(starts[1] - starts[0]) if len(starts) > 1 else 0
    even = len(starts) > 1 and bool((np.diff(starts) == stride).all())
    span = sig[:, starts[0] : starts[-1] + window]
    setup = bde._setup(band_list, float(sfreq), int(order), int(window))
    plan = (_plan(tuple(band_list[i] for i in setup.fast), float(sfreq), int(order),
                  int(window), stride)
            if even and setup.fast and 0 < stride < window else None)
    if plan is not None and not np.isfinite(span).all():
        plan = None  # a NaN would run on through the filter's state into every later window
    view = sliding_window_view(sig, window, axis=1)
    windows = (view[:, starts[0] : starts[-1] + 1 : stride] if even else view[:, starts])
    windows = windows.transpose(1, 0, 2)
    if plan is None:
        return bde.band_differential_entropy(windows, sfreq, bands, order, n_jobs=n_jobs,
                                             zscore=True)
    out = np.empty((len(starts), sig.shape[0], len(band_list)))
    if setup.slow:  # bands whose reference rounding only lfilter reproduces
        slow = {f"b{i}": band_list[i] for i in setup.slow}
        out[..., setup.slow] = bde.band_differential_entropy(windows, sfreq, slow, order,
                                                             n_jobs=n_jobs, zscore=True)
    out[..., setup.fast] = plan.entropy(span, len(starts), n_jobs)
    return out


def _block_length(stride: int) -> int | None:
    """A divisor of the stride, so that every window starts on a block boundary: the largest
    up to 64, else the smallest up to 256 (a block costs about L multiply-adds a sample)."""
    divisors = [d for d in range(16, min(stride, 256) + 1) if stride % d == 0]
    small = [d for d in divisors if d <= 64]
    return small[-1] if small else (divisors[0] if divisors else None)


@functools.lru_cache(maxsize=32)
def _plan(bands, sfreq: float, order: int, n: int, stride: int) -> _SlidingPlan | None:
    L = _block_length(stride)
    if L is None:
        return None
    filters = [bde.design_band_pass(lo, hi, sfreq, order) for lo, hi in bands]
    return _SlidingPlan(filters, n, stride, L)


class _SlidingPlan:
    """Constant matrices for a set of band-passes, a window length, a stride and a block."""

    def __init__(self, filters, n: int, stride: int, L: int):
        self.n, self.L, self.m, self.q = n, L, stride // L, n // L
        self.valid = n - self.q * L  # samples of a window's last, partial block
        modal = [bde._modal_form(tuple(map(float, b)), tuple(map(float, a))) for b, a in filters]
        self.B = B = len(modal)
        self.K = K = max(len(p) for p, _, _ in modal)
        p = np.array([np.pad(m[0], (0, K - len(m[0]))) for m in modal])  # (B, K)
        c = np.array([np.pad(m[1], (0, K - len(m[1]))) for m in modal])  # silent modes: 0
        k0 = np.array([m[2] for m in modal])
        powers = p[..., None] ** np.arange(max(n, L) + 1)  # (B, K, n+1): p**0 .. p**n

        def interleave(z):  # complex (..., K, T) -> real (..., 2K, T): (Re, Im) per mode
            return np.stack([z.real, z.imag], axis=-2).reshape(*z.shape[:-2], 2 * K,
                                                                z.shape[-1])

        h = np.real(np.einsum("bk,bkt->bt", c, powers[..., :n]))  # impulse response, t < n
        h[:, 0] += k0
        t = np.arange(L)
        toeplitz = np.tril(h[:, t[:, None] - t[None, :]])  # (B, L out, L in)
        to_state = interleave(powers[..., L - 1 - t])  # (B, 2K, L): input -> end-of-block state
        self.w_state = np.ascontiguousarray(to_state.transpose(2, 0, 1).reshape(L, B * 2 * K))
        self.w_toeplitz = np.ascontiguousarray(toeplitz.transpose(0, 2, 1))  # (B, L in, L out)
        cz = c[..., None] * powers[..., 1:]  # c p**(t+1), (B, K, n)
        carry = interleave(np.conj(cz))  # (B, 2K, n): real state -> free response
        self.carry = np.ascontiguousarray(carry[..., :L])
        self.moments = np.ascontiguousarray(interleave(powers[..., :L]).transpose(0, 2, 1))
        # Per block and band, one product of (input, entering state) gives the band's response
        # y (L), its moments sum_t y[t] p**t (2K) and its sum (1)
        mom_x = toeplitz.transpose(0, 2, 1) @ self.moments  # (B, L in, 2K)
        self.w_band = np.concatenate([
            np.concatenate([self.w_toeplitz, mom_x, toeplitz.sum(axis=1)[..., None]], axis=2),
            np.concatenate([self.carry, self.carry @ self.moments,
                            self.carry.sum(axis=2)[..., None]], axis=2),
        ], axis=1)  # (B, L + 2K, L + 2K + 1)
        self.decay = powers[..., L]  # (B, K)
        self.block_powers = powers[..., : self.q * L : L]  # (B, K, q): p**(jL)
        self.tail_power = powers[..., self.q * L]
        # a window's free response f = carry . state, and the step response U
        step = np.cumsum(h, axis=1)  # (B, n)
        self.free_sum = carry.sum(axis=2)  # (B, 2K)
        self.free_gram = carry @ carry.transpose(0, 2, 1)  # (B, 2K, 2K)
        self.free_step = np.einsum("bit,bt->bi", carry, step)
        self.step_sum, self.step_sq = step.sum(axis=1), (step * step).sum(axis=1)
        self.cp = c * p
        # sum_t y[t] U[t] = dc * sum(y) - Re(sum_k cpu_k S_k), U[t] = dc - Re(sum c p^(t+1)/(1-p))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(p == 1, 0, c / (1 - p))
        self.dc = k0 + np.real(ratio.sum(axis=1))
        self.cpu = ratio * p

    def entropy(self, span: np.ndarray, W: int, n_jobs: int | None) -> np.ndarray:
        """log2-free BDE (W, C, B) of the W windows of ``span`` (C, (W-1)*stride + n)."""
        C = span.shape[0]
        nblk = (W - 1) * self.m + self.q + (1 if self.valid else 0)
        # per-thread scratch (rbt.bde._scratch) here and in _log_var: fresh arrays of a few MB
        # a trial are given back to the kernel and faulted in again without malloc's heap pad
        rows = bde._scratch("sliding_rows", (C, nblk * self.L))
        rows[:, span.shape[1] :] = 0.0
        rows[:, : span.shape[1]] = span
        rows[:, : span.shape[1]] -= span.mean(axis=1, keepdims=True)  # less DC to cancel later
        offset, scale = self._zscore(rows, span, W)  # (C, W), (W,)
        out = np.empty((C, W, self.B))
        per = max(1, min(-(-C // max(1, n_jobs or bde.default_jobs())),
                         _CHUNK_SAMPLES // rows.shape[1]))

        def work(r0: int) -> None:
            r1 = min(C, r0 + per)
            out[r0:r1] = self._log_var(rows[r0:r1], offset[r0:r1], scale, W)

        starts = range(0, C, per)
        jobs = bde.default_jobs() if n_jobs is None else max(1, int(n_jobs))
        with bde._one_blas_thread():
            if jobs > 1 and len(starts) > 1:
                list(bde._pool(jobs).map(work, starts))
            else:
                for r0 in starts:
                    work(r0)
        return 0.5 * (out.transpose(1, 0, 2) + bde.LOG2_2PIE)

    def _windows(self, per_block, tail, W):
        """Sum per window of a per-block quantity (R, nblk, ...) plus its tail (R, nblk, ...),
        by differences of running sums over blocks."""
        run = np.zeros((per_block.shape[0], per_block.shape[1] + 1, *per_block.shape[2:]))
        np.cumsum(per_block, axis=1, out=run[:, 1:])
        first = np.arange(W) * self.m
        total = run[:, first + self.q] - run[:, first]
        if self.valid:
            total += tail[:, first + self.q]
        return total

    def _zscore(self, rows, span, W):
        """Each window's offset against the row's (removed) mean, (C, W), and its std, (W,)."""
        C, L, n = rows.shape[0], self.L, self.n
        blocks = rows.reshape(C, -1, L)
        s1 = self._windows(blocks.sum(axis=2), blocks[..., : self.valid].sum(axis=2), W)
        s2 = self._windows(np.einsum("cbt,cbt->cb", blocks, blocks),
                           np.einsum("cbt,cbt->cb", blocks[..., : self.valid],
                                     blocks[..., : self.valid]), W)
        d = span.mean(axis=1)  # what was removed from each row
        e = d - d.mean()
        mean = s1.sum(axis=0) / (C * n)  # of the rows as they are now, over all channels
        var = (s2 + 2 * e[:, None] * s1).sum(axis=0) / (C * n) + (e * e).mean() - mean * mean
        return mean[None, :] - e[:, None], np.sqrt(np.maximum(var, 0.0))

    def _log_var(self, rows, offset, scale, W):
        """log2 of each window's z-scored zero-state response variance: (R, W, B)."""
        R, L, B, K, n = rows.shape[0], self.L, self.B, self.K, self.n
        K2 = 2 * K
        nblk = rows.shape[1] // L
        both = bde._scratch("sliding_both", (R * nblk, L + K2))  # a block's input, a state
        both[:, :L] = rows.reshape(-1, L)
        u = np.matmul(both[:, :L], self.w_state, out=bde._scratch("sliding_u", (
            R * nblk, B * K2))).reshape(R, nblk, B, K2).view(complex)
        # the modal state entering each block: a first-order recursion over blocks per mode,
        # stepped in numpy over all modes at once, or for long signals by lfilter per mode
        states = bde._scratch("sliding_states", (B, R, nblk, K), complex)
        states[:, :, 0] = 0.0
        if nblk > _LOOP_BLOCKS:
            from scipy.signal import lfilter

            for i in range(B):
                for k in range(K):
                    states[i, :, 1:, k] = lfilter([1.0], [1.0, -self.decay[i, k]],
                                                  u[:, :-1, i, k], axis=1)
        else:
            acc = u[:, 0].copy()  # (R, B, K)
            for j in range(1, nblk):
                states[:, :, j] = acc.transpose(1, 0, 2)
                acc *= self.decay
                acc += u[:, j]
        tail_at = slice(self.q, None, self.m)
        sums = bde._scratch("sliding_sums", (2, R, nblk, B))
        tails = bde._scratch("sliding_tails", (2, R, nblk, B))
        tails[...] = 0.0
        moments = bde._scratch("sliding_moments", (R, nblk, B, K2))
        tail_moments = np.zeros((R, W, B, K2))
        per_out = bde._scratch("sliding_per", (R * nblk, self.w_band.shape[2]))
        for i in range(B):
            both[:, L:] = states[i].view(float).reshape(R * nblk, K2)
            per = np.matmul(both, self.w_band[i], out=per_out)
            y = per[:, :L]  # the band's response, block by block
            moments[..., i, :] = per[:, L : L + K2].reshape(R, nblk, K2)
            sums[0, ..., i] = per[:, -1].reshape(R, nblk)
            sums[1, ..., i] = np.einsum("ij,ij->i", y, y).reshape(R, nblk)
            if self.valid:
                tail = y.reshape(R, nblk, L)[:, tail_at, : self.valid]  # (R, W, valid)
                tails[0, :, tail_at, i] = tail.sum(axis=2)
                tails[1, :, tail_at, i] = np.einsum("rwt,rwt->rw", tail, tail)
                tail_moments[:, :, i] = tail @ self.moments[i, : self.valid]
        s1 = self._windows(sums[0], tails[0], W)  # (R, W, B)
        s2 = self._windows(sums[1], tails[1], W)
        view = sliding_window_view(moments.view(complex), self.q, axis=1)[:, :: self.m][:, :W]
        S = np.einsum("rwbkj,bkj->rwbk", view, self.block_powers)  # (R, W, B, K)
        if self.valid:
            S += tail_moments.view(complex) * self.tail_power
        z = np.ascontiguousarray(states[:, :, :: self.m][:, :, :W].transpose(1, 2, 0, 3))
        zr = z.view(float)  # (R, W, B, 2K): the state at each window's start
        sum_y = s1 - np.einsum("rwbi,bi->rwb", zr, self.free_sum)
        cross = np.real(np.einsum("rwbk,bk->rwb", z * S, self.cp))
        zb = np.ascontiguousarray(zr.transpose(2, 0, 1, 3)).reshape(B, R * W, K2)
        gram = np.matmul(zb, self.free_gram)  # one product per band (einsum's loop: 10x slower)
        quad = np.einsum("bni,bni->bn", gram, zb).reshape(B, R, W).transpose(1, 2, 0)
        sum_y2 = s2 - 2 * cross + quad
        sum_yu = (self.dc * s1 - np.real(np.einsum("rwbk,bk->rwb", S, self.cpu))
                  - np.einsum("rwbi,bi->rwb", zr, self.free_step))
        a = offset[..., None]  # z-scoring subtracts a * U from each band's response
        t1 = sum_y - a * self.step_sum
        t2 = sum_y2 - 2 * a * sum_yu + a * a * self.step_sq
        var = (t2 / n - (t1 / n) ** 2) / (scale[None, :, None] ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(np.maximum(var, 0.0))
