"""Band Differential Entropy (BDE), as the RBTransformer reference computes it, but fast.

The reference recipe filters every window on its own with a causal Butterworth band-pass
(``scipy.signal.butter`` + ``lfilter`` from zero state) and takes
``DE = 0.5 * log2(2 * pi * e * var)`` of the filtered window.

``lfilter`` is a scalar loop: one sample after another, one row after another. Nothing in SciPy or
MNE computes a per-window zero-state IIR response with BLAS, so we write it by hand:

* each window is cut into blocks of ``L`` samples;
* inside a block the response is a small lower-triangular Toeplitz matrix (the impulse response);
* what earlier blocks leave behind is carried in the filter's *modal* state, one complex number per
  pole.  The modal basis is used because the direct-form state of a narrow order-10 band-pass is
  so ill-conditioned that carrying it between blocks loses every digit; the modes are independent,
  decaying and well scaled.  Poles and residues come from the same ``(b, a)`` that ``lfilter``
  uses, found with 60-digit arithmetic (mpmath), so the result is the exact response of that
  filter.

Every band of every window then becomes a few matrix products, done in threads over row chunks.
Where ``lfilter``'s own rounding drifts away from the exact response (narrow low bands at high
sampling rates), a probe detects it and that band falls back to vectorised ``lfilter``, so the
result always agrees with the reference to 1e-7.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import math
import os
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "theta": (4.0, 8.0),
    "alpha": (8.0, 14.0),
    "beta": (14.0, 31.0),
    "gamma": (31.0, 49.0),
}

#: log2(2 pi e): the differential entropy of a Gaussian is 0.5 * (LOG2_2PIE + log2(variance))
LOG2_2PIE = math.log2(2 * math.pi * math.e)
_CHUNK_ROWS = 256  # rows per work item: keeps one chunk's block outputs in cache
_PROBE_TOLERANCE = 2e-8  # largest DE disagreement with lfilter accepted for the fast path


def band_differential_entropy(
    x,
    sfreq: float,
    bands: Mapping[str, tuple[float, float]] | None = None,
    order: int = 5,
    *,
    n_jobs: int | None = None,
    zscore: bool = False,
) -> np.ndarray:
    """Band differential entropy of each window, channel and band.

    Parameters
    ----------
    x : array, shape (..., n_channels, n_samples)
        Windows of EEG. Each window is filtered on its own, from zero state.
    sfreq : float
        Sampling rate in Hz.
    bands : dict of str -> (low, high), optional
        Pass bands in Hz. Defaults to :data:`DEFAULT_BANDS` (theta, alpha, beta, gamma).
    order : int
        Butterworth order of each band-pass (the reference uses 5).
    n_jobs : int, optional
        Worker threads; None takes :func:`default_jobs` (see :func:`set_default_jobs`).
    zscore : bool
        Z-score each window (the last two axes: all its channels and samples) with one mean
        and one std first, as the reference does; done chunk by chunk inside the workers, so
        ``x`` may be a strided view of overlapping windows and is never copied whole.

    Returns
    -------
    de : ndarray of float64, shape (..., n_channels, n_bands)
        ``0.5 * log2(2 * pi * e * var(filtered window))``, bands in the order given.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., channels, samples); got shape {x.shape}")
    n = x.shape[-1]
    if n < 2:
        raise ValueError(f"each window needs at least 2 samples; got {n}")
    bands = DEFAULT_BANDS if bands is None else bands
    setup = _setup(tuple((float(lo), float(hi)) for lo, hi in bands.values()), float(sfreq),
                   int(order), int(n))
    filters, fast, slow, plan = setup.filters, setup.fast, setup.slow, setup.plan
    if slow:
        signal = _scipy_signal()
    if zscore:  # whole windows per chunk: (windows, channels, samples)
        windows = x.reshape(-1, *x.shape[-2:])
        per = max(1, _CHUNK_ROWS // x.shape[-2])
        out = np.empty((windows.shape[0] * x.shape[-2], len(filters)))
    else:
        rows = x.reshape(-1, n)
        out = np.empty((rows.shape[0], len(filters)))

    def work(start: int) -> None:
        if zscore:
            part = windows[start : start + per]
            rows_here = part.size // n
            chunk = _zscored(part, _scratch("zscore", (per * x.shape[-2], n))[:rows_here],
                             _scratch("squares", (per * x.shape[-2], n))[:rows_here])
            start *= x.shape[-2]
        else:
            chunk = rows[start : start + _CHUNK_ROWS]
        if plan is not None:
            out[start : start + len(chunk), fast] = plan.log_var(chunk)
        for i in slow:
            b, a = filters[i]
            out[start : start + len(chunk), i] = _log_var_rows(signal.lfilter(b, a, chunk,
                                                                               axis=-1))

    starts = range(0, windows.shape[0], per) if zscore else range(0, rows.shape[0], _CHUNK_ROWS)
    n_jobs = default_jobs() if n_jobs is None else max(1, int(n_jobs))
    with _one_blas_thread():
        if n_jobs > 1 and len(starts) > 1:
            list(_pool(n_jobs).map(work, starts))
        else:
            for s in starts:
                work(s)
    out = 0.5 * (out + LOG2_2PIE)
    return out.reshape(*x.shape[:-1], len(filters))


_scratch_store = threading.local()


def _scratch(name: str, shape: tuple, dtype=float) -> np.ndarray:
    """A per-thread scratch array of ``shape`` (uninitialised), its memory kept between
    chunks, trials and calls and grown when a larger one is asked for: a fresh array of a
    few MB for every chunk costs its page faults each time."""
    store = _scratch_store.__dict__
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    buf = store.get(name)
    if buf is None or buf.dtype != dtype or buf.size < size:
        buf = store[name] = np.empty(size, dtype)
    return buf[:size].reshape(shape)


def _zscored(part: np.ndarray, into: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """``part`` (windows, channels, samples), each window z-scored with one mean and one std
    as the reference does, written into ``into`` (windows * channels, samples); ``squares``
    (the same shape) is scratch.

    The mean and std are numpy's of each window as one contiguous array, bit for bit: at
    narrow low bands (theta at 200 Hz) ``lfilter``'s rounding follows the input's last bits
    (one ulp on every sample moves DE by 1e-6), so the per-window path reproduces the
    reference only from the reference's z-scored samples. A strided view's reduction sums in
    another order and misses that by 1.2e-6.
    """
    flat = into.reshape(part.shape)
    np.copyto(flat, part)
    count = part.shape[1] * part.shape[2]
    mean = np.add.reduce(flat, axis=(1, 2), keepdims=True) / count  # np.mean's steps
    np.subtract(flat, mean, out=flat)
    # np.std's steps on the centred window (sum of squares, / count, sqrt), without its copy
    squares = np.multiply(flat, flat, out=squares.reshape(part.shape))
    std = np.sqrt(np.add.reduce(squares, axis=(1, 2), keepdims=True) / count)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(flat, std, out=flat)
    return into


def _log_var_rows(y: np.ndarray) -> np.ndarray:
    """log2 of each row's variance from its sum and sum of squares (one pass, no temporaries;
    a band-passed window's mean is small against its spread, so nothing cancels)."""
    n = y.shape[-1]
    mean = y.sum(axis=-1) / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log2(np.maximum(np.einsum("ij,ij->i", y, y) / n - mean * mean, 0.0))


# --------------------------------------------------------------------------------------------
# Threads: BDE's workers, and BLAS held to one thread inside them

_jobs: list[int] = []
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()
_blas: list = []  # ThreadpoolController (its library scan is slow: found once), limiter, users


def default_jobs() -> int:
    """BDE's worker threads when a call names none: :func:`set_default_jobs`'s count, else
    ``RBT_BDE_THREADS``, else 2, never more than the CPUs this process may use."""
    if _jobs:
        return _jobs[0]
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        wanted = int(os.environ.get("RBT_BDE_THREADS", "").strip() or 2)
    except ValueError:
        wanted = 2
    return max(1, min(wanted, cpus))


def set_default_jobs(n: int | None) -> None:
    """Fix the worker threads of every later call that names none (None: back to the
    default), e.g. so that BDE's and torch's threads together fit the free cores."""
    _jobs.clear()
    if n is not None:
        _jobs.append(max(1, int(n)))


def _pool(n_jobs: int) -> ThreadPoolExecutor:
    """One executor per worker count, shared by every call in the process: concurrent calls
    share its threads instead of each starting its own."""
    with _pools_lock:
        pool = _pools.get(n_jobs)
        if pool is None:
            pool = _pools[n_jobs] = ThreadPoolExecutor(n_jobs, thread_name_prefix="rbt-bde")
        return pool


@contextlib.contextmanager
def _one_blas_thread():
    """Hold BLAS to one thread (the workers are the parallelism) while any call runs: the
    first call in sets the limit, the last one out restores it."""
    with _pools_lock:
        if not _blas:
            from threadpoolctl import ThreadpoolController

            _blas.extend([ThreadpoolController(), None, 0])  # controller, limiter, users
        if _blas[2] == 0:
            _blas[1] = _blas[0].limit(limits=1, user_api="blas")
        _blas[2] += 1
    try:
        yield
    finally:
        with _pools_lock:
            _blas[2] -= 1
            if _blas[2] == 0:
                _blas[1].restore_original_limits()
                _blas[1] = None


_preloads: list = []  # the future of scipy.signal's import in BDE's pool, once


def preload() -> None:
    """Start importing ``scipy.signal`` (0.8 s on one core, which BDE's first call needs) in
    BDE's pool, beside the caller's I/O: :func:`rbt.data.pipeline.prepare` calls it once a
    file misses the cache, before reading it. Never waits; does nothing once imported."""
    if "scipy.signal" in sys.modules:
        return
    pool = _pool(default_jobs())
    with _pools_lock:
        if not _preloads:
            _preloads.append(pool.submit(importlib.import_module, "scipy.signal"))


def _scipy_signal():
    """``scipy.signal``, imported on first use (a cache hit needs none): after the import
    :func:`preload` started, if any, so that one thread imports it while the other waits."""
    if _preloads:
        with contextlib.suppress(Exception):  # a failed import is raised again just below
            _preloads[0].result()
    from scipy import signal

    return signal


_M_TOP_PAD = -2  # glibc's mallopt parameter (malloc.h)
HEAP_PAD = 32 << 20


_padded: list[bool] = []  # whether pad_heap set the pad in this process


def pad_heap() -> bool:
    """Ask glibc's malloc to grow its heaps, and keep them, ``HEAP_PAD`` (32 MiB) beyond what
    is in use (``mallopt(M_TOP_PAD)``); whether it was set. The ``rbt features`` command
    calls it as it starts; nothing else does.

    BDE allocates and frees arrays of a few MB for every trial. With glibc's default pad
    (128 KiB) the pages freed at a heap's top go back to the kernel and the next trial faults
    them in again; measured on 8 full-size DEAP files with the next file read ahead: 1.13
    million page faults and 2.8 s of system time, against 0.30 million and 0.9 s padded
    (wall 8.7 s against 6.0 s, load 3.5). It is process-wide and held per malloc arena, so
    a process of many threads pays it many times over: 16 threads each allocating and
    freeing BDE-sized arrays held 110 MB more while alive and 290 MB more once they had
    ended (RSS 430 against 320 MB, and 430 against 145 MB). Hence not in the dashboard, nor
    at a library call's first BDE. Only with glibc (no library sets malloc's parameters,
    hence ctypes); a ``MALLOC_TOP_PAD_`` of the user's wins.
    """
    if not sys.platform.startswith("linux") or "MALLOC_TOP_PAD_" in os.environ:
        return False
    try:
        import platform

        if platform.libc_ver()[0] != "glibc":
            return False
        done = bool(ctypes.CDLL(None).mallopt(_M_TOP_PAD, HEAP_PAD))
    except (OSError, AttributeError, ValueError):
        return False
    if done and not _padded:
        _padded.append(True)
    return done


# --------------------------------------------------------------------------------------------
# What does not depend on the data, made once per band set, rate, order and window length


class _Setup:
    """The filters, which of them take the block path, and the block plan for those."""

    __slots__ = ("filters", "fast", "slow", "plan")

    def __init__(self, filters, fast, slow, plan):
        self.filters, self.fast, self.slow, self.plan = filters, fast, slow, plan


@functools.lru_cache(maxsize=32)
def _setup(bands: tuple[tuple[float, float], ...], sfreq: float, order: int, n: int) -> _Setup:
    filters = [design_band_pass(lo, hi, sfreq, order) for lo, hi in bands]
    fast = [i for i, (b, a) in enumerate(filters) if _modal_is_faithful(b, a, n)]
    slow = [i for i in range(len(filters)) if i not in fast]
    plan = _BlockPlan([filters[i] for i in fast], n) if fast else None
    return _Setup(filters, fast, slow, plan)


def differential_entropy(x) -> np.ndarray:
    """``0.5 * log2(2 pi e var(x))`` along the last axis: the DE of an already filtered signal."""
    return 0.5 * (LOG2_2PIE + np.log2(np.var(x, axis=-1)))


def design_band_pass(low: float, high: float, sfreq: float, order: int = 5):
    """The reference's Butterworth band-pass ``(b, a)``; checks the band fits below Nyquist."""
    if not 0 < low < high < sfreq / 2:
        raise ValueError(
            f"band ({low}, {high}) Hz must satisfy 0 < low < high < Nyquist ({sfreq / 2} Hz) "
            f"at a sampling rate of {sfreq} Hz"
        )
    return _scipy_signal().butter(order, [low, high], btype="band", fs=sfreq)


# --------------------------------------------------------------------------------------------
# Modal form of (b, a) and the block plan built from it


@functools.lru_cache(maxsize=64)
def _modal_form(b: tuple[float, ...], a: tuple[float, ...]):
    """Poles, weighted residues and direct term of H(z) = B(z)/A(z), exact to float64.

    Returns ``(p, c, k0)`` with one pole per conjugate pair (weight 2 in ``c``) so that
    ``h[t] = k0 * delta[t] + Re(sum(c * p**t))``.
    """
    import mpmath
    with mpmath.workdps(60):
        am = [mpmath.mpf(v) for v in a]
        bm = [mpmath.mpf(v) for v in b]
        am = [v / am[0] for v in am]
        bm = [v / mpmath.mpf(a[0]) for v in bm]
        n_poles = len(am) - 1
        poles = _polished_roots(am) or mpmath.polyroots(am, maxsteps=400, extraprec=400)
        bm = bm + [mpmath.mpf(0)] * (n_poles + 1 - len(bm))
        k0 = bm[n_poles] / am[n_poles]
        p_out, c_out = [], []
        for i, p in enumerate(poles):
            if mpmath.im(p) < -1e-30 * abs(p):
                continue  # the conjugate of a kept pole
            num = sum(bk * p ** (-k) for k, bk in enumerate(bm))
            den = mpmath.mpf(1)
            for j, q in enumerate(poles):
                if j != i:
                    den *= 1 - q / p
            weight = 1 if abs(mpmath.im(p)) <= 1e-30 * abs(p) else 2
            p_out.append(complex(p))
            c_out.append(complex(weight * num / den))
    return np.array(p_out), np.array(c_out), float(k0)


def _polished_roots(am) -> list | None:
    """Roots of the monic polynomial ``am`` to the working precision, refined from float64's
    (Weierstrass-Durand-Kerner from good starts converges in a few steps, where
    ``mpmath.polyroots`` from scratch needs hundreds); None if they do not converge apart."""
    import mpmath
    start = np.roots(np.array([float(v) for v in am]))
    if len(start) != len(am) - 1 or not np.all(np.isfinite(start)):
        return None
    z = [mpmath.mpc(complex(v)) for v in start]
    tol = mpmath.mpf(10) ** (12 - mpmath.mp.dps)  # above the rounding floor near clusters
    previous = None
    for _ in range(60):
        biggest = mpmath.mpf(0)
        for i in range(len(z)):
            den = mpmath.mpc(1)
            for j in range(len(z)):
                if j != i:
                    den *= z[i] - z[j]
            if den == 0:
                return None
            step = mpmath.polyval(am, z[i]) / den
            z[i] -= step
            biggest = max(biggest, abs(step) / max(abs(z[i]), tol))
        if biggest < tol or (biggest < tol ** 0.7 and previous is not None
                             and biggest > previous / 10):
            break  # converged, or stalled at the rounding floor of a tight cluster
        previous = biggest
    else:
        return None
    gaps = [abs(z[i] - z[j]) for i in range(len(z)) for j in range(i)]
    if gaps and min(gaps) < mpmath.mpf(10) ** -20:
        return None  # two starts fell into one root
    return z


def _block_length(n: int) -> int:
    """A block length near 64 that divides the window when one does (measured fastest)."""
    for length in (64, 60, 56, 50, 48, 40, 72, 80, 32, 36, 30, 25, 24):
        if n % length == 0:
            return length
    return 64


class _BlockPlan:
    """Matrices that filter and reduce many windows for a set of band-passes at once.

    Per block of ``L`` samples, with in-block response ``y0 = T x`` and carry ``c = F' s`` from
    the real modal state ``s``, the window sums need only ``y0``, ``F T x``, ``F 1`` and
    ``F F'``: ``sum(y) = sum(y0) + s.F1`` and ``sum(y**2) = sum(y0**2) + 2 s.(F T x) + s'FF's``.
    The filtered windows are never stored.
    """

    def __init__(self, filters, n: int):
        self.n = n
        self.L = L = min(_block_length(n), n)
        self.nb = -(-n // L)
        self.valid = n - (self.nb - 1) * L  # samples of the last block inside the window
        modal = [_modal_form(tuple(map(float, b)), tuple(map(float, a))) for b, a in filters]
        self.n_bands = len(modal)
        self.K = K = max(len(p) for p, _, _ in modal)
        t = np.arange(L)
        toeplitz, to_state, carry = [], [], []
        decay = np.zeros((self.n_bands, K), dtype=complex)
        for i, (p, c, k0) in enumerate(modal):
            p = np.pad(p, (0, K - len(p)))  # bands of lower order get silent modes
            c = np.pad(c, (0, K - len(c)))
            powers = np.power.outer(p, np.arange(L + 1))  # (K, L+1): p**0 .. p**L
            h = np.real(c @ powers[:, :L])
            h[0] += k0
            toeplitz.append(np.tril(h[t[:, None] - t[None, :]]))  # (L out, L in)
            bz = powers[:, L - 1 - t]  # (K, L): input sample -> end-of-block modal state
            to_state.append(np.stack([bz.real, bz.imag], axis=1).reshape(2 * K, L))
            cz = c[:, None] * powers[:, 1:]  # (K, L): modal state -> carry into next block
            carry.append(np.stack([cz.real, -cz.imag], axis=1).reshape(2 * K, L))
            decay[i] = powers[:, L]
        T = np.stack(toeplitz)  # (B, L, L)
        F = np.stack(carry)  # (B, 2K, L); real state s interleaves (Re, Im) of each mode
        B = self.n_bands
        self.w_toeplitz = np.ascontiguousarray(T.transpose(2, 0, 1).reshape(L, B * L))
        # Per block: modal input u, F T x and the in-block sum 1'T x, all in one product.
        self.w_other = np.concatenate(
            [np.concatenate(to_state).T, 2 * np.concatenate(F @ T).T, T.sum(axis=1).T], axis=1
        )
        self.decay = decay
        # s' (F F') s and s' F 1 for every band at once, as one block-diagonal product.
        self.w_state = self._state_weights(F)
        F_last = F.copy()
        F_last[..., self.valid :] = 0.0
        self.w_state_last = self._state_weights(F_last)
        self.ftx_last = 2 * np.concatenate(F_last @ T).T  # (L, B*2K)
        self._scratch = threading.local()

    def _buffer(self, name, shape, dtype=float):
        """Per-thread scratch arrays: fresh large arrays cost page faults on every chunk."""
        store = self._scratch.__dict__
        buf = store.get(name)
        if buf is None or buf.shape != shape:
            buf = store[name] = np.empty(shape, dtype)
        return buf

    def _state_weights(self, F):
        B, K2 = F.shape[:2]
        w = np.zeros((B * K2, B * K2 + B))
        for i in range(B):
            w[i * K2 : (i + 1) * K2, i * K2 : (i + 1) * K2] = F[i] @ F[i].T
            w[i * K2 : (i + 1) * K2, B * K2 + i] = F[i].sum(axis=1)
        return w

    def log_var(self, rows: np.ndarray) -> np.ndarray:
        """log2 of the variance of each row's zero-state response, per band: (R, B)."""
        R, n, L, nb, B, K = len(rows), self.n, self.L, self.nb, self.n_bands, self.K
        K2 = 2 * K
        if nb * L != n:
            rows = np.concatenate([rows, np.zeros((R, nb * L - n))], axis=1)
        blocks = rows.reshape(R * nb, L)
        y0 = np.matmul(blocks, self.w_toeplitz, out=self._buffer("y0", (R * nb, B * L)))
        if self.valid < L:
            y0.reshape(R, nb, B, L)[:, -1, :, self.valid :] = 0.0
        sq = np.einsum("ij,ij->i", y0.reshape(-1, L), y0.reshape(-1, L)).reshape(R, nb, B)
        other = np.matmul(blocks, self.w_other, out=self._buffer("other", (R * nb, 2 * B * K2 + B)))
        u = other[:, : B * K2].view(complex).reshape(R, nb, B, K)
        ftx = other[:, B * K2 : 2 * B * K2]  # 2 F T x
        total = other[:, 2 * B * K2 :].reshape(R, nb, B).sum(axis=1)
        # Modal state entering each block; the recursion runs over blocks, not samples.
        states = self._buffer("states", (R, nb, B, K), complex)
        states[:, 0] = 0.0
        w = u[:, 0].copy()
        for j in range(1, nb):
            states[:, j] = w
            w *= self.decay
            w += u[:, j]
        s = states.view(float).reshape(R * nb, B * K2)  # (Re, Im) interleaved like F's rows
        if self.valid < L:
            ftx = ftx.copy()
            ftx.reshape(R, nb, -1)[:, -1] = blocks.reshape(R, nb, L)[:, -1] @ self.ftx_last
        v = np.matmul(s, self.w_state, out=self._buffer("v", (R * nb, B * K2 + B)))
        if self.valid < L:
            v.reshape(R, nb, -1)[:, -1] = s.reshape(R, nb, -1)[:, -1] @ self.w_state_last
        total += v[:, B * K2 :].reshape(R, nb, B).sum(axis=1)
        quad = v[:, : B * K2]
        quad += ftx  # s'(FF')s + 2 s'(FTx) = s . (FF's + 2FTx); the 2 is in w_other
        sq += np.einsum("ij,ij->i", s.reshape(-1, K2), quad.reshape(-1, K2)).reshape(R, nb, B)
        mean = total / n
        return np.log2(np.maximum(sq.sum(axis=1) / n - mean * mean, 0.0))


def _probe(n: int) -> np.ndarray:
    """A fixed, EEG-like probe: z-scored random walk plus white noise (strong low frequencies)."""
    rng = np.random.default_rng(20250101)
    walk = np.cumsum(rng.standard_normal((48, n)), axis=1) * 0.2 + rng.standard_normal((48, n))
    return (walk - walk.mean()) / walk.std()


@functools.lru_cache(maxsize=256)
def _faithful_cached(b: tuple[float, ...], a: tuple[float, ...], n: int) -> bool:
    signal = _scipy_signal()

    x = _probe(n)
    fast = _BlockPlan([(np.array(b), np.array(a))], n).log_var(x)[:, 0]
    ref = np.log2(signal.lfilter(b, a, x, axis=-1).var(axis=-1))
    return bool(np.all(np.isfinite(fast)) and np.max(np.abs(fast - ref)) * 0.5 <= _PROBE_TOLERANCE)


def _modal_is_faithful(b, a, n) -> bool:
    """Whether the block path reproduces ``lfilter`` on a probe signal for this filter."""
    return _faithful_cached(tuple(map(float, b)), tuple(map(float, a)), int(n))
