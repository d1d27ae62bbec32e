"""Attribution methods, one record each: what :func:`~rbt.explain.attribute` runs, the CLI
parses and the app lists.

A :class:`Method` holds a method's name, short aliases, label and one-line meaning, its options
with their defaults, its cost per window, and how to build it from Captum. :func:`attribute`
reads nothing else, so adding a method is one record in :data:`METHOD_REGISTRY` (or one
:func:`register_method` call). This module imports neither torch nor Captum: menus and argument
parsers read it at no cost.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

MASKS = ("cell", "electrode", "band")
OUTPUTS = ("logit", "probability")
NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")
# more integration steps or samples than this gain nothing measurable and cost hours (and
# Gauss-Legendre nodes for 10^6 steps need terabytes)
MAX_SAMPLES = 1000
#: integrated gradients: the most Gauss-Legendre points a window is raised to by default
DEFAULT_MAX_STEPS = 256

#: options every method takes, with their defaults
COMMON_OPTIONS: Mapping[str, Any] = MappingProxyType({"output": "logit"})
#: options SmoothGrad adds (``smoothgrad=True``), with their defaults
SMOOTHGRAD_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {"nt_samples": 10, "noise_level": 0.1, "nt_type": "smoothgrad"})
#: option name -> one-line meaning (for help texts)
OPTION_MEANINGS: Mapping[str, str] = MappingProxyType({
    "output": "the attributed output: the explained class's logit or its probability",
    "n_steps": "integration steps (Gauss-Legendre points) from the baseline to the window; "
               "with a tolerance, the first round's",
    "tolerance": "integrated gradients: windows whose |sum(attr) - (f(x) - f(x'))| exceeds "
                 "this are recomputed with twice the steps (None: never)",
    "max_steps": "integrated gradients: the most steps a window is raised to (None: 256, or "
                 "n_steps when more)",
    "integration": "Captum's integration rule (gausslegendre, riemann_trapezoid, ...)",
    "abs": "take the gradient's magnitude (unsigned map)",
    "n_samples": "random points per window between a baseline draw and the window",
    "stdevs": "standard deviation of Gaussian noise added to each sample",
    "n_baselines": "windows drawn as the baseline set for baseline='sample'",
    "mask": "what is removed at once: a cell, an electrode's bands or a band everywhere",
    "sliding_window_shapes": "occlusion patch (electrodes, bands); follows mask when None",
    "strides": "occlusion step (electrodes, bands); the patch size when None",
    "feature_mask": "integers (E, bands): cells with the same value are removed together",
    "nt_samples": "noisy copies per window averaged by SmoothGrad",
    "noise_level": "SmoothGrad noise: this fraction of the windows' spread (1st-99th pct)",
    "nt_type": "how SmoothGrad combines the copies: smoothgrad, smoothgrad_sq or vargrad",
})
_COUNTS = ("n_steps", "n_samples", "n_baselines", "nt_samples")


@dataclass(frozen=True)
class Method:
    """One attribution method.

    Attributes
    ----------
    name : str
        The canonical name (``attribute(method=name)``).
    label : str
        Short human name for menus ("integrated gradients").
    meaning : str
        One line: what the map says.
    build : callable
        ``build(captum_attr, forward, x, baselines, opts, internal_batch_size, generator)``
        -> ``(algorithm, kwargs)``; ``algorithm.attribute(x, target=..., **kwargs)`` gives
        the map. ``generator`` (a CPU ``torch.Generator``) is the only source of randomness.
    inputs_per_window : callable
        ``(opts, n_electrodes, n_bands) -> int``: model inputs one window costs (each a
        forward pass, and a backward pass too when ``gradients``), before SmoothGrad.
    cost : str
        One line: what those passes are.
    aliases : tuple of str
        Short names accepted wherever a name is (``ig``, ``shap``...).
    options : mapping
        The method's own options with their defaults (besides :data:`COMMON_OPTIONS`).
    gradients : bool
        Needs input gradients (forward and backward passes).
    uses_baseline : bool
        Compares the window with a baseline (all but saliency).
    baseline_set : bool
        Draws from one set of baselines per call (GradientSHAP): per-window baselines are run
        group by group, and ``baseline="sample"`` gives a set of ``n_baselines`` windows.
    complete : bool
        The map adds up to ``f(window) - f(baseline)``; its convergence delta is checked.
    check : callable or None
        ``check(opts, smoothgrad)`` raising ValueError for option combinations that make no
        sense for this method.

    :meth:`signed` says whether its maps take both signs (figures draw unsigned ones on a
    sequential scale).
    """

    name: str
    label: str
    meaning: str
    build: Callable[..., tuple[Any, dict]]
    inputs_per_window: Callable[[Mapping, int, int], int]
    cost: str
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    gradients: bool = True
    uses_baseline: bool = True
    baseline_set: bool = False
    complete: bool = False
    check: Callable[[Mapping, bool], None] | None = None

    def signed(self, **options) -> bool:
        """Can its maps be negative? Not when it reports magnitudes (saliency's ``abs``)."""
        return not {**self.options, **options}.get("abs", False)


# ---- what a mask removes -----------------------------------------------------------------------

def feature_groups(opts: Mapping, e: int, b: int) -> np.ndarray:
    """Integer groups ``(E, bands)`` removed together: ``feature_mask`` or the ``mask``'s."""
    if opts.get("feature_mask") is not None:
        m = np.asarray(opts["feature_mask"])
        if m.shape != (e, b) or not np.issubdtype(m.dtype, np.integer):
            raise ValueError(f"feature_mask must be integers of shape ({e}, {b}); got {m.shape}")
        return m
    return {"cell": np.arange(e * b).reshape(e, b),
            "electrode": np.repeat(np.arange(e)[:, None], b, axis=1),
            "band": np.repeat(np.arange(b)[None, :], e, axis=0)}[opts["mask"]]


def occlusion_window(opts: Mapping, e: int, b: int) -> tuple[tuple, tuple]:
    """Occlusion's patch shape and strides, from the options or the mask."""
    shape = opts["sliding_window_shapes"] or {"cell": (1, 1), "electrode": (1, b),
                                              "band": (e, 1)}[opts["mask"]]
    return tuple(shape), tuple(opts["strides"] or shape)


def _perturbations_per_eval(x, internal_batch_size: int) -> int:
    return max(1, internal_batch_size // max(len(x), 1))


# ---- how each method is built ----------------------------------------------------------------

def _build_integrated_gradients(attr, fwd, x, base, opts, internal_batch_size, generator):
    return _IntegratedGradients(attr, fwd, opts, internal_batch_size), {"baselines": base}


class _IntegratedGradients:
    """Integrated gradients raised window by window to a completeness tolerance
    (:mod:`rbt.explain.integrated`): rbt's own batched Gauss-Legendre quadrature, or Captum's
    for its other integration rules. ``report`` holds the last call's
    :class:`~rbt.explain.integrated.IGReport`."""

    def __init__(self, attr, fwd, opts, internal_batch_size: int):
        self.attr, self.fwd, self.opts = attr, fwd, opts
        self.rows = internal_batch_size
        self.report = None

    def _captum(self, fwd, x, base, target, n_steps, rows):
        # Captum needs room for two steps of every window in one internal batch
        return self.attr.IntegratedGradients(fwd).attribute(
            x.detach().requires_grad_(), baselines=base, target=target, n_steps=n_steps,
            method=self.opts["integration"],
            internal_batch_size=max(rows, 2 * len(x))).detach()

    def attribute(self, x, target, baselines):
        from .integrated import adaptive_integrated_gradients

        o = self.opts
        fixed = None if o["integration"] == "gausslegendre" else self._captum
        attr, self.report = adaptive_integrated_gradients(
            self.fwd, x.detach(), baselines, target, o["n_steps"], o["tolerance"],
            o["max_steps"] or max(DEFAULT_MAX_STEPS, o["n_steps"]), self.rows, fixed)
        return attr


def _integrated_gradients_check(opts: Mapping, smoothgrad: bool) -> None:
    tol = opts["tolerance"]
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, int | float | np.number)
                            or not 0 < tol < float("inf")):
        raise ValueError(f"tolerance must be a finite number > 0 (or None: fixed n_steps); "
                         f"got {tol!r}")
    most = opts["max_steps"]
    if most is None:
        return
    if isinstance(most, bool) or not isinstance(most, int | np.integer) \
            or not 1 <= most <= MAX_SAMPLES:
        raise ValueError(f"max_steps must be an integer from 1 to {MAX_SAMPLES} (or None); got "
                         f"{most!r}")
    if most < opts["n_steps"]:
        raise ValueError(f"max_steps ({most}) must be at least n_steps ({opts['n_steps']})")


def _build_saliency(attr, fwd, x, base, opts, internal_batch_size, generator):
    return attr.Saliency(fwd), {"abs": opts["abs"]}


def _build_deeplift(attr, fwd, x, base, opts, internal_batch_size, generator):
    # DeepLift hooks the model's modules while it runs: on a private copy, since the model
    # copy the other methods share may be running in another thread (the dashboard's
    # sessions and prefetching), whose passes would meet those hooks
    return attr.DeepLift(copy.deepcopy(fwd)), {"baselines": base}


def _build_gradient_shap(attr, fwd, x, base, opts, internal_batch_size, generator):
    return _GradientShap(attr.Saliency(fwd), generator), {
        "baselines": base, "n_samples": opts["n_samples"], "stdevs": opts["stdevs"]}


def _build_occlusion(attr, fwd, x, base, opts, internal_batch_size, generator):
    shape, strides = occlusion_window(opts, *x.shape[1:])
    return attr.Occlusion(fwd), {
        "sliding_window_shapes": shape, "strides": strides, "baselines": base,
        "perturbations_per_eval": _perturbations_per_eval(x, internal_batch_size)}


def _build_feature_ablation(attr, fwd, x, base, opts, internal_batch_size, generator):
    import torch

    groups = torch.as_tensor(feature_groups(opts, *x.shape[1:]), dtype=torch.long)
    return attr.FeatureAblation(fwd), {
        "baselines": base, "feature_mask": groups[None].to(x.device),
        "perturbations_per_eval": _perturbations_per_eval(x, internal_batch_size)}


class _GradientShap:
    """GradientSHAP as Captum defines it, drawing from ``generator`` instead of the global
    generators (which would make one request's draws depend on every other's).

    For each window: ``n_samples`` points ``z = base + u * (x' - base)``, ``base`` drawn from
    the baseline set, ``u ~ U(0, 1)``, ``x'`` the window plus N(0, stdevs) noise; the map is
    the mean of ``grad f(z) * (x' - base)``.
    """

    def __init__(self, saliency, generator):
        self.saliency, self.generator = saliency, generator

    def attribute(self, x, target, baselines, n_samples: int, stdevs: float = 0.0):
        import torch

        n, k, g = len(x), n_samples, self.generator
        xs = x.detach().repeat_interleave(k, dim=0)
        if stdevs:
            xs = xs + stdevs * torch.randn(xs.shape, generator=g).to(xs)
        base = baselines[torch.randint(len(baselines), (n * k,), generator=g).to(x.device)]
        u = torch.rand(n * k, generator=g).to(xs).view(-1, *[1] * (x.ndim - 1))
        points = (base + u * (xs - base)).requires_grad_()
        grads = self.saliency.attribute(points, target=target.repeat_interleave(k), abs=False)
        return ((xs - base) * grads).reshape(n, k, *x.shape[1:]).mean(dim=1)


def _gradient_shap_check(opts: Mapping, smoothgrad: bool) -> None:
    if smoothgrad and opts["stdevs"]:
        raise ValueError("gradient_shap with smoothgrad: the noise is SmoothGrad's "
                         "(noise_level); leave stdevs at 0")


def _occlusion_inputs(opts, e, b) -> int:
    (we, wb), (se, sb) = occlusion_window(opts, e, b)
    return ((e - we) // se + 1) * ((b - wb) // sb + 1)


#: name -> :class:`Method`; the one table of attribution methods
METHOD_REGISTRY: dict[str, Method] = {m.name: m for m in (
    Method(
        "integrated_gradients", "integrated gradients",
        "Integrated gradients: gradients averaged along the straight path from the baseline "
        "to the window, times their difference; they add up to the output change.",
        _build_integrated_gradients, lambda o, e, b: o["n_steps"],
        "n_steps forward and backward passes (more for windows raised to the tolerance)",
        aliases=("ig",),
        options=MappingProxyType({"n_steps": 16, "integration": "gausslegendre",
                                  "tolerance": 1e-4, "max_steps": None}),
        complete=True, check=_integrated_gradients_check),
    Method(
        "saliency", "saliency",
        "Saliency: the absolute gradient of the output at the window (local sensitivity; no "
        "baseline).",
        _build_saliency, lambda o, e, b: 1, "one forward and backward pass",
        aliases=("grad",), options=MappingProxyType({"abs": True}), uses_baseline=False),
    Method(
        "deeplift", "DeepLift",
        "DeepLift (rescale rule): each feature's share of the output's change from the "
        "baseline, propagated layer by layer.",
        _build_deeplift, lambda o, e, b: 2,
        "one forward and backward pass over the window and its baseline", aliases=("dl",)),
    Method(
        "gradient_shap", "GradientSHAP",
        "GradientSHAP: gradients at random points between baseline draws and the window, "
        "times their difference; approximates SHAP values.",
        _build_gradient_shap, lambda o, e, b: o["n_samples"],
        "n_samples forward and backward passes", aliases=("shap", "gradshap"),
        options=MappingProxyType({"n_samples": 20, "stdevs": 0.0, "n_baselines": 16}),
        baseline_set=True, check=_gradient_shap_check),
    Method(
        "occlusion", "occlusion",
        "Occlusion: how much the output drops when a sliding patch (a cell, an electrode's "
        "bands or a band on every electrode) is set to the baseline. With the default patches, "
        "which tile the window without overlapping, it removes the same groups as feature "
        "ablation and gives the same map; a larger patch moved by a smaller stride "
        "(sliding_window_shapes, strides) averages overlapping patches instead.",
        _build_occlusion, _occlusion_inputs, "one forward pass per patch position",
        options=MappingProxyType({"mask": "cell", "sliding_window_shapes": None,
                                  "strides": None}),
        gradients=False),
    Method(
        "feature_ablation", "feature ablation",
        "Feature ablation: how much the output drops when a group of features (a cell, an "
        "electrode, a band, or your own mask) is replaced by the baseline.",
        _build_feature_ablation, lambda o, e, b: int(feature_groups(o, e, b).max()) + 1,
        "one forward pass per group removed", aliases=("ablation",),
        options=MappingProxyType({"mask": "cell", "feature_mask": None}), gradients=False),
)}


class _LiveView(Mapping):
    """A read-only mapping computed from the registry on each access, so names registered
    later show up everywhere."""

    def __init__(self, items: Callable[[], dict]):
        self._items = items

    def __getitem__(self, key):
        return self._items()[key]

    def __iter__(self) -> Iterator:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return repr(self._items())


#: method name -> one-line meaning (menus and help texts)
METHODS: Mapping[str, str] = _LiveView(
    lambda: {n: m.meaning for n, m in METHOD_REGISTRY.items()})
#: short name -> method name
ALIASES: Mapping[str, str] = _LiveView(
    lambda: {a: m.name for m in METHOD_REGISTRY.values() for a in m.aliases})


def _key(text) -> str:
    return str(text).strip().lower().replace("-", "_").replace(" ", "_")


def method_record(name) -> Method:
    """The :class:`Method` for a name, an alias or a label, in any case ("IG",
    "integrated gradients"); anything else is a ValueError that lists what there is."""
    if isinstance(name, Method):
        return name
    key = _key(name)
    for m in METHOD_REGISTRY.values():
        if key == m.name or key in m.aliases or key == _key(m.label):
            return m
    short = ", ".join(f"{a} = {n}" for a, n in ALIASES.items())
    raise ValueError(f"method must be one of {', '.join(METHOD_REGISTRY)} or a short name "
                     f"({short}); got {name!r}")


def register_method(method: Method) -> Method:
    """Add a method to :data:`METHOD_REGISTRY`; its name and aliases must be new."""
    taken = {_key(n) for m in METHOD_REGISTRY.values() for n in (m.name, m.label, *m.aliases)}
    clash = sorted({_key(n) for n in (method.name, method.label, *method.aliases)} & taken)
    if clash:
        raise ValueError(f"method {method.name!r}: {', '.join(clash)} already name a method")
    METHOD_REGISTRY[method.name] = method
    return method


def resolve_options(method, smoothgrad: bool, options: Mapping) -> dict:
    """The method's options with defaults filled in; unknown names and bad values are a
    ValueError."""
    m = method_record(method)
    allowed = {**COMMON_OPTIONS, **m.options, **(SMOOTHGRAD_OPTIONS if smoothgrad else {})}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{m.name}{' with smoothgrad' if smoothgrad else ''} takes the "
                         f"options {', '.join(sorted(allowed))}; got {', '.join(unknown)}")
    opts = {**allowed, **options}
    if opts["output"] not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}; got {opts['output']!r}")
    for name in _COUNTS:
        if name in opts and (not isinstance(opts[name], int | np.integer)
                             or isinstance(opts[name], bool)
                             or not 1 <= opts[name] <= MAX_SAMPLES):
            raise ValueError(f"{name} must be an integer from 1 to {MAX_SAMPLES}; got "
                             f"{opts[name]!r}")
    if "mask" in opts and opts["mask"] not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}; got {opts['mask']!r}")
    if smoothgrad:
        if opts["nt_type"] not in NT_TYPES:
            raise ValueError(f"nt_type must be one of {', '.join(NT_TYPES)}; got "
                             f"{opts['nt_type']!r}")
        level = opts["noise_level"]
        if isinstance(level, bool) or not isinstance(level, int | float | np.number) \
                or not 0 <= level < float("inf"):
            raise ValueError(f"noise_level must be a finite number >= 0; got {level!r}")
    if m.check is not None:
        m.check(opts, smoothgrad)
    return opts


def passes_per_window(method, n_electrodes: int, n_bands: int = 4, smoothgrad: bool = False,
                      **options) -> int:
    """Model inputs one window costs with these options (SmoothGrad included): forward passes,
    each with a backward pass when the method's ``gradients`` is true. What a front end
    multiplies by the windows to warn before a long run."""
    m = method_record(method)
    opts = resolve_options(m, smoothgrad, options)
    return m.inputs_per_window(opts, n_electrodes, n_bands) * (opts["nt_samples"]
                                                                if smoothgrad else 1)
