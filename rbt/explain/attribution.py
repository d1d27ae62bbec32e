"""What drove a prediction: Captum attributions per window, electrode and band.

One call shape for every method, as Captum's ``attribute()``: a method name and its options in,
an array of windows x electrodes x bands out. Captum is imported on first use (it ships with the
``app`` extra: ``pip install 'rbt[app]'``).
"""

from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..device import resolve_device
from ..progress import progress_bar
from .inputs import check_windows, make_baseline, resolve_target, spread

#: method name -> one-line description (for menus and help text)
METHODS: dict[str, str] = {
    "integrated_gradients": "Integrated gradients: gradients averaged along the straight path "
    "from the baseline to the window, times their difference; they add up to the output change.",
    "saliency": "Saliency: the absolute gradient of the output at the window (local "
    "sensitivity; no baseline).",
    "deeplift": "DeepLift (rescale rule): each feature's share of the output's change from the "
    "baseline, propagated layer by layer.",
    "gradient_shap": "GradientSHAP: gradients at random points between baseline draws and the "
    "window, times their difference; approximates SHAP values.",
    "occlusion": "Occlusion: how much the output drops when a sliding patch (a cell, an "
    "electrode's bands or a band on every electrode) is set to the baseline.",
    "feature_ablation": "Feature ablation: how much the output drops when a group of features "
    "(a cell, an electrode, a band, or your own mask) is replaced by the baseline.",
}

MASKS = ("cell", "electrode", "band")
OUTPUTS = ("logit", "probability")
# more integration steps or samples than this gain nothing measurable and cost hours (and
# Gauss-Legendre nodes for 10^6 steps need terabytes)
MAX_SAMPLES = 1000

# Options each method accepts, with their defaults. "output", "noise_level" etc. are shared.
_METHOD_OPTIONS: dict[str, dict] = {
    "integrated_gradients": {"n_steps": 50, "integration": "gausslegendre"},
    "saliency": {"abs": True},
    "deeplift": {},
    "gradient_shap": {"n_samples": 20, "stdevs": 0.0, "n_baselines": 16},
    "occlusion": {"mask": "cell", "sliding_window_shapes": None, "strides": None},
    "feature_ablation": {"mask": "cell", "feature_mask": None},
}
_GRADIENT_METHODS = ("integrated_gradients", "saliency", "deeplift", "gradient_shap")
_COMMON_OPTIONS = {"output": "logit"}
_SMOOTHGRAD_OPTIONS = {"nt_samples": 10, "noise_level": 0.1, "nt_type": "smoothgrad"}


class _Output(nn.Module):
    """The model's logits, or its class probabilities, as the attributed output."""

    def __init__(self, model: nn.Module, output: str):
        super().__init__()
        self.model = model
        self.softmax = nn.Softmax(dim=-1) if output == "probability" else None

    def forward(self, x):
        logits = self.model(x)
        return logits if self.softmax is None else self.softmax(logits)


def _captum():
    try:
        import captum.attr as attr
        from captum.attr._core import deep_lift
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("explanations need Captum: pip install 'rbt[app]' (or captum)") from err
    # DeepLift's rescale rule applies to any element-wise activation; Captum lists only some of
    # them and would silently treat the model's GELUs as linear. Registering GELU (once) gives
    # them the rule of the paper instead of a plain gradient.
    deep_lift.SUPPORTED_NON_LINEAR.setdefault(nn.GELU, deep_lift.nonlinear)
    return attr


def resolve_options(method: str, smoothgrad: bool, options: dict) -> dict:
    """The method's options with defaults filled in; unknown names are a ValueError."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    allowed = {**_COMMON_OPTIONS, **_METHOD_OPTIONS[method],
               **(_SMOOTHGRAD_OPTIONS if smoothgrad else {})}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{method}{' with smoothgrad' if smoothgrad else ''} takes the "
                         f"options {', '.join(sorted(allowed))}; got {', '.join(unknown)}")
    opts = {**allowed, **options}
    if opts["output"] not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {opts['output']!r}")
    for name in ("n_steps", "n_samples", "n_baselines", "nt_samples"):
        if name in opts and (not isinstance(opts[name], int | np.integer)
                             or isinstance(opts[name], bool)
                             or not 1 <= opts[name] <= MAX_SAMPLES):
            raise ValueError(f"{name} must be an integer from 1 to {MAX_SAMPLES}; got "
                             f"{opts[name]!r}")
    if "mask" in opts and opts["mask"] not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}; got {opts['mask']!r}")
    if smoothgrad and method == "gradient_shap" and opts["stdevs"]:
        raise ValueError("gradient_shap with smoothgrad: the noise is SmoothGrad's "
                         "(noise_level); leave stdevs at 0")
    return opts


def _feature_mask(opts: dict, e: int, b: int) -> torch.Tensor:
    if opts.get("feature_mask") is not None:
        m = np.asarray(opts["feature_mask"])
        if m.shape != (e, b) or not np.issubdtype(m.dtype, np.integer):
            raise ValueError(f"feature_mask must be integers of shape ({e}, {b}); got {m.shape}")
        return torch.as_tensor(m, dtype=torch.long)[None]
    grid = {"cell": np.arange(e * b).reshape(e, b),
            "electrode": np.repeat(np.arange(e)[:, None], b, axis=1),
            "band": np.repeat(np.arange(b)[None, :], e, axis=0)}[opts["mask"]]
    return torch.as_tensor(grid, dtype=torch.long)[None]


def _occlusion_window(opts: dict, e: int, b: int) -> tuple[tuple, tuple]:
    shape = opts["sliding_window_shapes"] or {"cell": (1, 1), "electrode": (1, b),
                                              "band": (e, 1)}[opts["mask"]]
    return tuple(shape), tuple(opts["strides"] or shape)


def rows_per_window(method: str, opts: dict, e: int, b: int) -> int:
    """How many model inputs one window costs (sets how many windows go in one batch)."""
    if method == "integrated_gradients":
        rows = opts["n_steps"]
    elif method == "gradient_shap":
        rows = opts["n_samples"]
    elif method == "deeplift":
        rows = 2
    elif method == "saliency":
        rows = 1
    elif method == "feature_ablation":
        rows = int(_feature_mask(opts, e, b).max()) + 1
    else:
        (we, wb), (se, sb) = _occlusion_window(opts, e, b)
        rows = ((e - we) // se + 1) * ((b - wb) // sb + 1)
    return rows * (opts["nt_samples"] if "nt_samples" in opts else 1)


def attribute_rows(fwd, x, target, base, method: str, opts: dict, internal_batch_size: int,
                   noise_sd: float = 0.0):
    """Captum attributions for one batch of windows (tensors in, tensor out).

    ``base`` is ``(n, E, bands)`` per window, or for GradientSHAP a set to draw from.
    """
    attr = _captum()
    e, b = x.shape[1:]
    n = len(x)
    per_window = base is not None and base.shape == x.shape
    if method == "integrated_gradients":
        algo = attr.IntegratedGradients(fwd)
        kw = {"baselines": base, "n_steps": opts["n_steps"], "method": opts["integration"],
              "internal_batch_size": max(internal_batch_size, 2 * n * opts.get("nt_samples", 1))}
    elif method == "saliency":
        algo, kw = attr.Saliency(fwd), {"abs": opts["abs"]}
    elif method == "deeplift":
        algo, kw = attr.DeepLift(fwd), {"baselines": base}
    elif method == "gradient_shap":
        if per_window and n > 1 and not bool((base == base[:1]).all()):
            # GradientSHAP draws from one baseline set per call: call once per distinct baseline
            keys, inverse = torch.unique(base.reshape(n, -1), dim=0, return_inverse=True)
            out = torch.empty_like(x)
            for g in range(len(keys)):
                idx = torch.nonzero(inverse == g).squeeze(1)
                out[idx] = attribute_rows(fwd, x[idx], target[idx], base[idx[:1]], method,
                                          opts, internal_batch_size, noise_sd)
            return out
        algo = attr.GradientShap(fwd)
        kw = {"baselines": base[:1] if per_window else base, "n_samples": opts["n_samples"],
              "stdevs": opts["stdevs"]}
    else:
        ppe = max(1, internal_batch_size // max(n * opts.get("nt_samples", 1), 1))
        if method == "occlusion":
            shape, strides = _occlusion_window(opts, e, b)
            algo = attr.Occlusion(fwd)
            kw = {"sliding_window_shapes": shape, "strides": strides, "baselines": base,
                  "perturbations_per_eval": ppe}
        else:
            algo = attr.FeatureAblation(fwd)
            kw = {"baselines": base, "perturbations_per_eval": ppe,
                  "feature_mask": _feature_mask(opts, e, b).to(x.device)}
    if method in _GRADIENT_METHODS:
        x = x.detach().requires_grad_()  # Captum would warn and do the same
    if "nt_samples" in opts:
        algo = attr.NoiseTunnel(algo)
        kw.update(nt_type=opts["nt_type"], nt_samples=opts["nt_samples"], stdevs=noise_sd)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*hooks.*")  # DeepLift's notice, each call
        return algo.attribute(x, target=target, **kw).detach()


@dataclass
class Prepared:
    """Everything an attribution run needs, resolved once (shared with :mod:`.trust`)."""

    model: nn.Module
    fwd: nn.Module  # the attributed output: logits or probabilities
    method: str
    opts: dict
    X: np.ndarray
    base: np.ndarray | None  # per window (n, E, B), or GradientSHAP's draw set (m, E, B)
    x: torch.Tensor
    target: torch.Tensor
    baselines: torch.Tensor | None
    noise_sd: float
    internal_batch_size: int
    per_call: int
    seed: int

    @property
    def shared_baselines(self) -> bool:
        return self.baselines is not None and self.baselines.shape != self.x.shape

    def run(self, x, target, baselines=None, progress: bool = False) -> torch.Tensor:
        """Attributions for ``x`` in batches of ``per_call`` windows, seeded."""
        out = torch.empty_like(x)
        with seeded(self.seed, x.device), \
                progress_bar(total=len(x), desc=self.method, unit="window",
                             disable=not progress) as bar:
            for s in range(0, len(x), self.per_call):
                sl = slice(s, s + self.per_call)
                b = baselines if baselines is None or baselines.shape != x.shape else baselines[sl]
                out[sl] = attribute_rows(self.fwd, x[sl], target[sl], b, self.method, self.opts,
                                         self.internal_batch_size, self.noise_sd)
                bar.update(len(x[sl]))
        return out


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters need no gradients. Every method needs input
    gradients only, and autograd still does part of the weight-gradient work unless told
    (measured: a forward and backward pass 1.15x faster on CPU). A copy, not a flag flipped on
    the caller's model, so that attributions running side by side (the dashboard's sessions
    share one model) never see or leave another's state."""
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


@contextmanager
def seeded(seed: int, device: torch.device):
    """Seed the generators Captum draws from (torch's, and NumPy's global one for GradientSHAP),
    restoring them afterwards."""
    state = np.random.get_state()  # noqa: NPY002 - Captum uses the legacy global generator
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            np.random.seed(seed)  # noqa: NPY002
            yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def prepare(model, X, target=None, method: str = "integrated_gradients", baseline="zeros",
            smoothgrad: bool = False, internal_batch_size: int = 256,
            batch_size: int | None = None, device="cpu", subject_ids=None, reference=None,
            seed: int = 0, reference_subject_ids=None, **options) -> Prepared:
    """Check the inputs and resolve options, baselines and targets (see :func:`attribute`)."""
    opts = resolve_options(method, smoothgrad, options)
    X = check_windows(model, X)
    if internal_batch_size < 2:
        raise ValueError(f"internal_batch_size must be >= 2; got {internal_batch_size}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    base = None if method == "saliency" else make_baseline(
        X, baseline, method=method, subject_ids=subject_ids, reference=reference,
        reference_subject_ids=reference_subject_ids, seed=seed,
        n_baselines=opts.get("n_baselines", 16))
    e, b = X.shape[1:]
    dev = resolve_device(device)
    model = model.to(dev).eval()
    fwd = _Output(frozen_copy(model), opts["output"])
    x = torch.from_numpy(X).to(dev)
    return Prepared(
        model=model, fwd=fwd, method=method, opts=opts, X=X, base=base, x=x,
        target=resolve_target(fwd, x, target, model.config.num_classes, internal_batch_size),
        baselines=None if base is None else torch.from_numpy(np.ascontiguousarray(base)).to(dev),
        noise_sd=float(opts["noise_level"] * spread(X)) if smoothgrad else 0.0,
        internal_batch_size=internal_batch_size,
        per_call=batch_size or max(1, internal_batch_size // rows_per_window(method, opts, e, b)),
        seed=seed,
    )


def attribute(model, X, target=None, method: str = "integrated_gradients", baseline="zeros",
              smoothgrad: bool = False, internal_batch_size: int = 256,
              batch_size: int | None = None, device="cpu", progress: bool = False,
              subject_ids=None, reference=None, seed: int = 0, reference_subject_ids=None,
              **options) -> np.ndarray:
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
        A key of :data:`METHODS`.
    baseline : {"zeros", "subject_mean", "sample"} or ndarray
        What "absent" means (see :data:`BASELINES`); ignored by saliency. ``"subject_mean"``
        needs ``subject_ids`` (one per window) and averages each subject's windows in
        ``reference`` (with ``reference_subject_ids``) when given, else in ``X``: pass the whole
        recording as the reference when ``X`` holds only a few windows. ``"sample"`` draws
        from ``reference`` (or the other windows of X) with a generator seeded by ``seed``.
        An array is ``(E, bands)`` for every window or ``(windows, E, bands)``.
    smoothgrad : bool
        Wrap the method in SmoothGrad (Captum's NoiseTunnel): the mean attribution over
        ``nt_samples`` (10) copies of each window with Gaussian noise of ``noise_level`` (0.1)
        times the spread (1st to 99th percentile) of the windows' values.
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
        always give the same result.
    **options
        ``output`` ("logit" or "probability": the attributed output), and per method:
        integrated_gradients ``n_steps`` (50), ``integration`` ("gausslegendre");
        saliency ``abs`` (True); gradient_shap ``n_samples`` (20), ``stdevs`` (0),
        ``n_baselines`` (16 draws for "sample"); occlusion ``mask`` ("cell", "electrode" or
        "band"), ``sliding_window_shapes``, ``strides``; feature_ablation ``mask`` or
        ``feature_mask`` (integers, (E, bands), one group per value). SmoothGrad adds
        ``nt_samples``, ``noise_level``, ``nt_type``.

    Returns
    -------
    ndarray, float32, shape (windows, E, bands)
    """
    p = prepare(model, X, target, method, baseline, smoothgrad, internal_batch_size, batch_size,
                device, subject_ids, reference, seed, reference_subject_ids, **options)
    return p.run(p.x, p.target, p.baselines, progress=progress).float().cpu().numpy()
