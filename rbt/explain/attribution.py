"""What drove a prediction: Captum attributions per window, electrode and band.

One call shape for every method, as Captum's ``attribute()``: a method name and its options in,
an array of windows x electrodes x bands out. Captum is imported on first use (it ships with the
``app`` extra: ``pip install 'rbt[app]'``).
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from ..progress import progress_bar
from .copies import shared_copy
from .inputs import check_windows, make_baseline, resolve_target, spread
from .methods import (  # noqa: F401 - MASKS, MAX_SAMPLES, METHODS, OUTPUTS: read from here too
    MASKS,
    MAX_SAMPLES,
    METHODS,
    OUTPUTS,
    Method,
    method_record,
    resolve_options,
)


class _Output(nn.Module):
    """The model's logits, or its class probabilities, as the attributed output."""

    def __init__(self, model: nn.Module, output: str):
        super().__init__()
        self.model = model
        self.softmax = nn.Softmax(dim=-1) if output == "probability" else None

    def forward(self, x):
        logits = self.model(x)
        return logits if self.softmax is None else self.softmax(logits)


@functools.cache
def _captum():
    """Captum's ``attr`` module, with GELU registered for DeepLift once per process.

    DeepLift's rescale rule applies to any element-wise activation; Captum lists only some of
    them and would silently treat the model's GELUs as linear. Registering GELU gives them the
    rule of the paper instead of a plain gradient. It is done here, on the first import of
    Captum and never again (``setdefault``: a GELU rule already registered is kept), so no
    request changes Captum's module state while another runs.
    """
    try:
        import captum.attr as attr
        from captum.attr._core import deep_lift
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("explanations need Captum: pip install 'rbt[app]' (or captum)") from err
    deep_lift.SUPPORTED_NON_LINEAR.setdefault(nn.GELU, deep_lift.nonlinear)
    return attr


def rows_per_window(method, opts: dict, e: int, b: int) -> int:
    """How many model inputs one window costs (sets how many windows go in one batch)."""
    return method_record(method).inputs_per_window(opts, e, b) * opts.get("nt_samples", 1)


def _noise_tunnel(run, x, target, base, per_window: bool, opts: dict, noise_sd: float,
                  generator: torch.Generator) -> torch.Tensor:
    """SmoothGrad (Captum's NoiseTunnel, with the noise drawn from ``generator``): the method
    on ``nt_samples`` noisy copies of each window, combined by ``nt_type``."""
    k = opts["nt_samples"]
    xs = x.detach().repeat_interleave(k, dim=0)
    xs = xs + noise_sd * torch.randn(xs.shape, generator=generator).to(xs)
    if per_window and base is not None:
        base = base.repeat_interleave(k, dim=0)
    out = run(xs, target.repeat_interleave(k), base).reshape(len(x), k, *x.shape[1:])
    mean = out.mean(dim=1)
    if opts["nt_type"] == "smoothgrad":
        return mean
    mean_sq = (out * out).mean(dim=1)
    return mean_sq if opts["nt_type"] == "smoothgrad_sq" else mean_sq - mean * mean


def attribute_rows(fwd, x, target, base, method, opts: dict, internal_batch_size: int,
                   noise_sd: float = 0.0, *, shared: bool | None = None,
                   generator: torch.Generator | None = None,
                   stats: list | None = None) -> torch.Tensor:
    """Captum attributions for one batch of windows (tensors in, tensor out).

    ``base`` is ``(n, E, bands)`` per window, or with ``shared`` one set for all windows (what
    a method with ``baseline_set`` draws from; by default a set is told by its shape).
    ``generator`` (a CPU ``torch.Generator``) drives every random draw. ``stats``, when a
    list, gets the method's report of each call (integrated gradients'
    :class:`~rbt.explain.integrated.IGReport`).
    """
    m = method_record(method)
    attr = _captum()
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    n = len(x)
    per_window = base is not None and not (base.shape != x.shape if shared is None else shared)
    if per_window and len(base) == 1 and n > 1:
        base = base.expand_as(x)  # one baseline for every window (Captum's broadcast)
    if m.baseline_set and per_window:
        if n > 1 and not bool((base == base[:1]).all()):
            # one baseline set per call: call once per distinct baseline
            keys, inverse = torch.unique(base.reshape(n, -1), dim=0, return_inverse=True)
            out = torch.empty_like(x)
            for g in range(len(keys)):
                idx = torch.nonzero(inverse == g).squeeze(1)
                out[idx] = attribute_rows(fwd, x[idx], target[idx], base[idx[:1]], m, opts,
                                          internal_batch_size, noise_sd, shared=True,
                                          generator=generator)
            return out
        base, per_window = base[:1], False

    def run(xr, tr, br):
        algo, kw = m.build(attr, fwd, xr, br, opts, internal_batch_size, generator)
        if m.gradients:
            xr = xr.detach().requires_grad_()  # Captum would warn and do the same
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*hooks.*")  # DeepLift's notice, each call
            out = algo.attribute(xr, target=tr, **kw).detach()
        if stats is not None and getattr(algo, "report", None) is not None:
            stats.append(algo.report)
        return out

    if "nt_samples" in opts:
        return _noise_tunnel(run, x, target, base, per_window, opts, noise_sd, generator)
    return run(x, target, base)


@dataclass
class Prepared:
    """Everything an attribution run needs, resolved once (shared with :mod:`.trust`)."""

    model: nn.Module
    fwd: nn.Module  # the attributed output: logits or probabilities
    record: Method
    opts: dict
    X: np.ndarray
    base: np.ndarray | None  # per window (n, E, B), or a baseline_set method's draws (m, E, B)
    x: torch.Tensor
    target: torch.Tensor
    baselines: torch.Tensor | None
    noise_sd: float
    internal_batch_size: int
    per_call: int
    seed: int
    shared_baselines: bool = False  # ``baselines`` is one set for all windows

    @property
    def method(self) -> str:
        return self.record.name

    def run(self, x, target, baselines=None, progress: bool = False,
            stats: list | None = None) -> torch.Tensor:
        """Attributions for ``x`` in batches of ``per_call`` windows, seeded: every draw comes
        from a generator of its batch's own, seeded from ``seed`` and the batch's first
        window (never the global ones), so any run of whole batches gives the same."""
        with progress_bar(total=len(x), desc=self.method, unit="window",
                          disable=not progress) as bar:
            return attribute_windows(self.fwd, x, target, baselines, self.record, self.opts,
                                     self.internal_batch_size, self.noise_sd,
                                     self.shared_baselines, self.per_call, self.seed,
                                     stats=stats, bar=bar)

    def run_blocks(self, cluster, device="auto", progress: bool = False,
                   stats: list | None = None) -> np.ndarray:
        """What ``run(self.x, self.target, self.baselines)`` gives on ``device`` (as float32
        numpy), each block of whole batches one Dask task of :func:`attribution_task` on
        ``cluster``, with ``device`` resolved on the workers."""
        from ..cluster import block_starts, run_tasks

        n = len(self.x)
        whole = (self.baselines is None or self.shared_baselines
                 or len(self.baselines) != n)
        model = copy.deepcopy(self.model).cpu()
        common = {"output": self.opts["output"], "method": self.method, "opts": self.opts,
                  "internal_batch_size": self.internal_batch_size, "noise_sd": self.noise_sd,
                  "shared_baselines": self.shared_baselines, "per_call": self.per_call,
                  "seed": self.seed, "whole": whole}
        bases = None if self.baselines is None else self.baselines.cpu().numpy()
        parts = run_tasks(
            cluster, attribution_task,
            [{**common, "start": a, "stop": b} for a, b in block_starts(n, self.per_call,
                                                                         cluster)],
            shared={"model": model, "X": self.X, "target": self.target.cpu().numpy(),
                    "baselines": bases},
            device=device, desc=self.method, unit="block", progress=progress)
        if stats is not None:
            stats.extend(st for _, part in parts for st in part)
        return np.concatenate([a for a, _ in parts]) if parts else np.zeros(
            self.X.shape, np.float32)


def batch_seed(seed: int, start: int) -> int:
    """The seed of the batch of windows that starts at window ``start``."""
    return int(np.random.SeedSequence([seed, start]).generate_state(1, np.uint64)[0] >> 1)


def attribute_windows(fwd, x, target, baselines, record, opts: dict, internal_batch_size: int,
                      noise_sd: float, shared_baselines: bool, per_call: int, seed: int,
                      start: int = 0, stats: list | None = None, bar=None) -> torch.Tensor:
    """Attributions for windows ``x`` (the dataset's from window ``start`` on), ``per_call``
    windows per Captum call, each call's draws from its own generator (:func:`batch_seed`)."""
    out = torch.empty_like(x)
    whole = baselines is None or shared_baselines or len(baselines) != len(x)
    for s in range(0, len(x), per_call):
        sl = slice(s, s + per_call)
        generator = torch.Generator().manual_seed(batch_seed(seed, start + s))
        out[sl] = attribute_rows(fwd, x[sl], target[sl], baselines if whole else baselines[sl],
                                 record, opts, internal_batch_size, noise_sd,
                                 shared=shared_baselines, generator=generator, stats=stats)
        if bar is not None:
            bar.update(len(x[sl]))
    return out


def attribution_task(model, output: str, X: np.ndarray, target: np.ndarray, baselines,
                     start: int, stop: int, method: str, opts: dict, internal_batch_size: int,
                     noise_sd: float, shared_baselines: bool, per_call: int, seed: int,
                     device, whole: bool):
    """One block of windows ``start:stop`` (whole batches) as a Dask task: the same
    :func:`attribute_windows` as in-process, on a model sent as a CPU copy, on ``device``
    resolved where it runs. Returns ``(attributions float32, the method's reports)``."""
    dev = resolve_device(device)
    fwd = _Output(frozen_copy(model.to(dev).eval()), output)
    x = torch.from_numpy(np.ascontiguousarray(X[start:stop])).to(dev)
    base = None if baselines is None else torch.from_numpy(
        np.ascontiguousarray(baselines if whole else baselines[start:stop])).to(dev)
    stats: list = []
    out = attribute_windows(fwd, x, torch.from_numpy(target[start:stop]).to(dev), base,
                            method_record(method), opts, internal_batch_size, noise_sd,
                            shared_baselines, per_call, seed, start=start, stats=stats)
    return out.float().cpu().numpy(), stats


def target_task(model, output: str, X: np.ndarray, start: int, stop: int, batch: int, device):
    """The predicted classes of windows ``start:stop`` (``start`` a multiple of ``batch``) as
    one Dask task: what :func:`prepare` computes in-process, batch for batch."""
    dev = resolve_device(device)
    fwd = _Output(frozen_copy(model.to(dev).eval()), output)
    x = torch.from_numpy(np.ascontiguousarray(X[start:stop])).to(dev)
    return resolve_target(fwd, x, None, 0, batch).cpu().numpy()


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters need no gradients. Every method needs input
    gradients only, and autograd still does part of the weight-gradient work unless told
    (measured: a forward and backward pass 1.15x faster on CPU). A copy, not a flag flipped on
    the caller's model, so that attributions running side by side (the dashboard's sessions
    share one model) never see or leave another's state; made once per model state
    (:func:`~rbt.explain.copies.shared_copy`)."""
    return shared_copy(model, "frozen", _frozen)


def _frozen(model: nn.Module) -> nn.Module:
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


def prepare(model, X, target=None, method: str = "integrated_gradients", baseline="zeros",
            smoothgrad: bool = False, internal_batch_size: int = 256,
            batch_size: int | None = None, device="cpu", subject_ids=None, reference=None,
            seed: int = 0, reference_subject_ids=None, cluster=None, **options) -> Prepared:
    """Check the inputs and resolve options, baselines and targets (see :func:`attribute`).

    With ``cluster`` nothing runs here on ``device`` (the workers' to resolve): the model, a
    private copy, and the tensors stay on the CPU, and predicted targets come from Dask tasks
    (:func:`target_task`) on ``device``, batch for batch as in-process."""
    record = method_record(method)
    opts = resolve_options(record, smoothgrad, options)
    X = check_windows(model, X)
    if internal_batch_size < 2:
        raise ValueError(f"internal_batch_size must be >= 2; got {internal_batch_size}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    base = None if not record.uses_baseline else make_baseline(
        X, baseline, method=record, subject_ids=subject_ids, reference=reference,
        reference_subject_ids=reference_subject_ids, seed=seed,
        n_baselines=opts.get("n_baselines", 16))
    e, b = X.shape[1:]
    dev = resolve_device(device) if cluster is None else torch.device("cpu")
    model = (model if cluster is None else copy.deepcopy(model)).to(dev).eval()
    fwd = _Output(frozen_copy(model), opts["output"])
    x = torch.from_numpy(X).to(dev)
    if cluster is not None and target is None:
        from ..cluster import block_starts, run_tasks

        blocks = block_starts(len(X), internal_batch_size, cluster)
        target = np.concatenate(run_tasks(
            cluster, target_task, [{"start": a, "stop": z, "output": opts["output"],
                                    "batch": internal_batch_size} for a, z in blocks],
            shared={"model": model, "X": X}, device=device, desc="predict", unit="block",
            progress=False) or [np.zeros(0, np.int64)])
    return Prepared(
        model=model, fwd=fwd, record=record, opts=opts, X=X, base=base, x=x,
        target=resolve_target(fwd, x, target, model.config.num_classes, internal_batch_size),
        baselines=None if base is None else torch.from_numpy(np.ascontiguousarray(base)).to(dev),
        noise_sd=float(opts["noise_level"] * spread(X)) if smoothgrad else 0.0,
        internal_batch_size=internal_batch_size,
        per_call=batch_size or max(1, internal_batch_size // rows_per_window(record, opts, e, b)),
        seed=seed,
        shared_baselines=base is not None and record.baseline_set
        and isinstance(baseline, str) and baseline == "sample",
    )


def attribute(model, X, target=None, method: str = "integrated_gradients", baseline="zeros",
              smoothgrad: bool = False, internal_batch_size: int = 256,
              batch_size: int | None = None, device="cpu", progress: bool = False,
              subject_ids=None, reference=None, seed: int = 0, reference_subject_ids=None,
              with_report: bool = False, cluster=None, **options):
    """Attributions of windows to the model's output, ``(windows, electrodes, bands)`` float32.

    Parameters
    ----------
    model : RBTransformer
        Put in eval mode (and on ``device``).
    X : ndarray, shape (windows, E, bands)
        BDE windows, in the model's electrode order.
    target : None, int or array of int
        The class explained: per window, one for all, or None for each window's predicted class.
    method : str
        A name, alias or label of a method in :data:`~rbt.explain.methods.METHOD_REGISTRY`
        (see :data:`METHODS` and :func:`~rbt.explain.methods.method_record`).
    baseline : {"zeros", "subject_mean", "sample"} or ndarray
        What "absent" means (see :data:`BASELINES`); ignored by saliency. ``"subject_mean"``
        needs ``subject_ids`` (one per window) and averages each subject's windows in
        ``reference`` (with ``reference_subject_ids``) when given, else in ``X``: pass the whole
        recording as the reference when ``X`` holds only a few windows. ``"sample"`` draws
        from ``reference`` (or the other windows of X) with a generator seeded by ``seed``.
        An array is ``(E, bands)`` for every window or ``(windows, E, bands)``.
    smoothgrad : bool
        Wrap the method in SmoothGrad (as Captum's NoiseTunnel): the mean attribution over
        ``nt_samples`` (10) copies of each window with Gaussian noise of ``noise_level`` (0.1)
        times the spread (1st to 99th percentile) of the windows' values (``nt_type``
        "smoothgrad_sq" or "vargrad" combine them otherwise).
    internal_batch_size : int
        At most this many model inputs (windows x steps, samples or perturbations) per forward
        pass; bounds memory (256 suits a CPU; a GPU wants thousands). ``batch_size``, the
        windows per Captum call, follows from it unless given.
    device : str
        "cpu", "cuda", "mps" or "auto"; the model is moved there.
    progress : bool
        Show a progress bar over windows.
    seed : int
        Seeds the baseline draws and the SmoothGrad/GradientSHAP noise: the same arguments
        always give the same result. The draws come from generators of this call's own; the
        global NumPy and torch generators are neither read nor reseeded.
    **options
        ``output`` ("logit" or "probability": the attributed output), and per method (each
        record's ``options``; :data:`~rbt.explain.methods.OPTION_MEANINGS` says what they do):
        integrated_gradients ``n_steps`` (16: the Gauss-Legendre points every window gets
        first), ``tolerance`` (1e-4: windows whose completeness error ``|sum(attr) - (f(x) -
        f(x'))|`` exceeds it are recomputed with twice the points, up to ``max_steps``
        (None: 256, or ``n_steps`` when more); None for exactly ``n_steps``),
        ``integration`` ("gausslegendre"; Captum's other rules are run by Captum);
        saliency ``abs`` (True); gradient_shap ``n_samples`` (20), ``stdevs`` (0),
        ``n_baselines`` (16 draws for "sample"); occlusion ``mask`` ("cell", "electrode" or
        "band"), ``sliding_window_shapes``, ``strides``; feature_ablation ``mask`` or
        ``feature_mask`` (integers, (E, bands), one group per value). SmoothGrad adds
        ``nt_samples``, ``noise_level``, ``nt_type``.

    with_report : bool
        Also return the method's report: for integrated gradients an
        :class:`~rbt.explain.integrated.IGReport` (points and completeness error per window,
        how many were raised); None for the other methods.
    cluster : rbt.cluster.Cluster, optional
        Attribute each block of windows as one Dask task (the same numbers: each batch of
        windows draws from a generator seeded by ``seed`` and its first window), with
        ``device`` resolved on the workers, not here; ``model`` is then left where it is.

    Returns
    -------
    ndarray, float32, shape (windows, E, bands); with ``with_report``, ``(ndarray, report)``
    """
    p = prepare(model, X, target, method, baseline, smoothgrad, internal_batch_size, batch_size,
                device, subject_ids, reference, seed, reference_subject_ids, cluster=cluster,
                **options)
    stats: list = []
    if cluster is None:
        out = p.run(p.x, p.target, p.baselines, progress=progress, stats=stats)
        out = out.float().cpu().numpy()
    else:
        out = p.run_blocks(cluster, device, progress=progress, stats=stats)
    if not with_report:
        return out
    from .integrated import IGReport

    report = IGReport.join(stats)
    return out, None if report is None else report.per_window(len(out))
