"""How far a map can be trusted: one number per check, each with a one-line meaning.

* ``convergence_delta`` (integrated gradients): completeness error, relative.
* ``infidelity`` (Captum, Yeh et al. 2019): how badly the map predicts the model's response to
  perturbations, as a fraction of that response.
* ``sensitivity_max`` (Captum): how much the map changes under tiny input perturbations.
* ``randomisation_spearman`` (Adebayo et al. 2018): rank correlation with the map of the same
  model with re-initialised weights.
* ``attention_agreement``: Spearman correlation between attention rollout and attribution per
  electrode.

The defaults keep :func:`trust_metrics` interactive on a handful of windows: infidelity uses
``n_perturb_samples`` (32) forward passes, sensitivity ``n_sensitivity_samples`` (4)
re-attributions, and the randomisation check one more attribution.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.stats import rankdata

from ..model import ElectrodeEmbedding
from .attention import attention_received, attention_rollout
from .attribution import Prepared, prepare
from .copies import shared_copy
from .inputs import spread


@dataclass
class TrustMetric:
    """A quality number for an attribution map, with what it means and what is healthy."""

    name: str
    value: float
    meaning: str
    healthy: str
    ok: bool | None = None  # inside the healthy range; None where no fixed range exists
    per_window: np.ndarray | None = None


def row_spearman(a, b) -> np.ndarray:
    """Spearman correlation of each row of ``a`` with the same row of ``b`` (NaN if constant)."""
    a = rankdata(np.asarray(a, np.float64).reshape(len(a), -1), axis=1)
    b = rankdata(np.asarray(b, np.float64).reshape(len(b), -1), axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, np.nan)


def _outputs(p: Prepared, x: torch.Tensor) -> torch.Tensor:
    """The attributed output for each window's target class."""
    with torch.no_grad():
        out = torch.cat([p.fwd(x[s: s + p.internal_batch_size])
                         for s in range(0, len(x), p.internal_batch_size)])
    return out.gather(1, p.target[:, None]).squeeze(1)


def convergence_delta(p: Prepared, attributions: np.ndarray) -> TrustMetric:
    """Sum of IG attributions minus ``f(x) - f(baseline)`` (Captum's delta), relative."""
    change = (_outputs(p, p.x) - _outputs(p, p.baselines)).cpu().numpy().astype(np.float64)
    delta = attributions.reshape(len(attributions), -1).sum(axis=1, dtype=np.float64) - change
    scale = np.abs(change).mean()
    value = float(np.abs(delta).mean() / scale) if scale > 0 else float("nan")
    return TrustMetric(
        "convergence_delta", value,
        "Integrated gradients should add up to the output's change from the baseline; this is "
        "how far they miss, as a fraction of that change.",
        "below 0.05; raise n_steps if not", ok=bool(value < 0.05), per_window=delta)


def infidelity_score(p: Prepared, attributions: np.ndarray, n_perturb_samples: int = 32
                     ) -> TrustMetric:
    """Captum's normalised infidelity over that of an empty map: 0 perfect, 1 uninformative.

    Gradient-times-difference and perturbation maps (all but saliency) are tested on random
    removals: a quarter of the cells set to the baseline, compared with the sum of their
    attributions. Saliency, a local map, is tested on small Gaussian noise.
    """
    from captum.metrics import infidelity

    local = not p.record.uses_baseline
    n = len(p.x)
    scale = 0.1 * spread(p.X)
    base = p.baselines
    if base is None:
        base = torch.zeros_like(p.x)
    elif p.shared_baselines:  # GradientSHAP's draw set: remove to its mean
        base = base.mean(0, keepdim=True).expand_as(p.x)

    def run(attr, normalize):
        gen = torch.Generator(device=p.x.device).manual_seed(p.seed)

        def perturb(inputs, baselines):
            if local:
                noise = torch.randn(inputs.shape, generator=gen, device=inputs.device) * scale
                return noise, inputs - noise
            mask = (torch.rand(inputs.shape, generator=gen, device=inputs.device) < 0.25)
            mask = mask.to(inputs.dtype)
            return mask, inputs - mask * (inputs - baselines)

        return infidelity(p.fwd, perturb, p.x, attr, baselines=base, target=p.target,
                          n_perturb_samples=n_perturb_samples,
                          max_examples_per_batch=max(n, min(n * n_perturb_samples,
                                                            p.internal_batch_size)),
                          normalize=normalize).detach().cpu().numpy().astype(np.float64)

    attr = torch.as_tensor(attributions, device=p.x.device)
    with torch.no_grad():
        raw = run(attr, True)
        response = run(torch.zeros_like(attr), False)  # E[(f(x) - f(x'))^2]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(response > 0, raw / response, np.nan)
    value = _finite_mean(rel)
    return TrustMetric(
        "infidelity",
        value,
        "Captum's infidelity: how badly the map predicts the output's change when "
        + ("small noise is added" if local else "random cells are set to the baseline")
        + ", as a fraction of that change (0: perfectly, 1: no better than an empty map).",
        "below 0.5", ok=bool(value < 0.5), per_window=rel)


def sensitivity_score(p: Prepared, attributions: np.ndarray, n_perturb_samples: int = 4,
                      radius: float = 0.02) -> TrustMetric:
    """Captum's ``sensitivity_max``: the largest relative change of the map when every value
    moves by at most ``radius`` times the spread of the windows (1st to 99th percentile;
    Captum's default radius 0.02 assumes inputs in [0, 1], so it is read as a fraction of the
    data's range)."""
    from captum.metrics import sensitivity_max

    shared = p.shared_baselines

    def explain(inputs, target, baselines=None):
        # Captum passes tuples and expects the same form back
        if isinstance(inputs, tuple):
            return (explain(inputs[0], target, baselines),)
        baselines = baselines[0] if isinstance(baselines, tuple) else baselines
        if not torch.is_tensor(target) or target.ndim == 0:
            target = torch.full((len(inputs),), int(target), device=inputs.device)
        return p.run(inputs, target, p.baselines if shared else baselines)

    value_r = radius * spread(p.X)
    # Captum's own perturbations draw from torch's global generator; these from our own
    gen = torch.Generator().manual_seed(p.seed)

    def perturb(inputs, perturb_radius):
        if isinstance(inputs, tuple):
            return tuple(perturb(t, perturb_radius) for t in inputs)
        noise = torch.rand(inputs.shape, generator=gen) * (2 * perturb_radius) - perturb_radius
        return inputs + noise.to(inputs)

    # One window at a time with a plain int target: Captum's sensitivity_max mis-slices an
    # expanded tensor target for perturbation-based methods (occlusion, feature ablation).
    sens = np.empty(len(p.x))
    for i in range(len(p.x)):
        kwargs = {"target": int(p.target[i])}
        if p.baselines is not None and not shared:
            kwargs["baselines"] = p.baselines[i: i + 1]
        sens[i] = float(sensitivity_max(explain, p.x[i: i + 1], perturb_func=perturb,
                                        perturb_radius=value_r,
                                        n_perturb_samples=n_perturb_samples,
                                        max_examples_per_batch=n_perturb_samples,
                                        **kwargs).detach().cpu().reshape(-1)[0])
    value = float(sens.mean())
    return TrustMetric(
        "sensitivity_max", value,
        "Captum's max-sensitivity: how much the map changes (relative to its size) when the "
        f"input moves by at most {radius:.0%} of the data's range.",
        "below 0.5: a small nudge should not redraw the map", ok=bool(value < 0.5),
        per_window=sens)


def randomised_copy(model, seed: int = 0):
    """A deep copy of ``model`` with every weight re-initialised (seeded).

    The draws come from a generator of its own, never torch's global one: linear layers as
    torch initialises them (uniform within 1/sqrt(fan_in)), layer norms to 1 and 0, the
    electrode embedding standard normal, any other parameter standard normal.
    """
    clone = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)

    def draw(p: torch.Tensor, bound: float | None = None) -> None:
        new = torch.empty(p.shape, dtype=p.dtype)
        if bound is None:
            new.normal_(generator=gen)
        else:
            new.uniform_(-bound, bound, generator=gen)
        p.copy_(new.to(p.device))

    with torch.no_grad():
        for module in clone.modules():
            if isinstance(module, torch.nn.Linear):
                bound = 1 / module.in_features ** 0.5
                draw(module.weight, bound)
                if module.bias is not None:
                    draw(module.bias, bound)
            elif isinstance(module, torch.nn.LayerNorm):
                module.reset_parameters()  # ones and zeros: nothing random
            elif isinstance(module, ElectrodeEmbedding):
                draw(module.embedding)
            else:
                for p in module.parameters(recurse=False):
                    draw(p)
    return clone.eval()


def sanity_check(model, X, method: str = "integrated_gradients", target=None,
                 baseline="zeros", attributions=None, reinit_seed: int = 0,
                 absolute: bool = False, **kwargs) -> float:
    """Model-randomisation sanity check (Adebayo et al., 2018).

    The Spearman rank correlation over electrode x band cells between the map of the trained
    model and that of a deep copy with every weight re-initialised (seed ``reinit_seed``), for
    the same windows and classes, averaged over windows. A map that explains the model should
    change when the model is destroyed: a low correlation is healthy; a high one means the map
    mostly reflects the input. Signed maps are compared by default (what the app draws);
    ``absolute`` compares magnitudes, where methods that multiply by ``x - baseline`` keep a
    share of that factor (about 0.4-0.5 on the demo) whatever the weights. ``attributions``
    (the trained model's map, if already computed) and ``kwargs`` are as for :func:`attribute`.
    """
    p = prepare(model, X, target, method, baseline, **kwargs)
    return _randomisation(p, attributions, reinit_seed, absolute).value


def _finite_mean(values: np.ndarray) -> float:
    """The mean of the finite per-window values (NaN when there are none)."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _randomisation(p: Prepared, attributions, reinit_seed: int, absolute: bool) -> TrustMetric:
    mine = p.run(p.x, p.target, p.baselines).cpu().numpy() if attributions is None \
        else np.asarray(attributions)
    clone = shared_copy(p.model, ("randomised", reinit_seed),
                        lambda m: randomised_copy(m, reinit_seed).requires_grad_(False))
    rand = replace(p, model=clone, fwd=type(p.fwd)(clone, p.opts["output"]))
    theirs = rand.run(p.x, p.target, p.baselines).cpu().numpy()
    rho = row_spearman(np.abs(mine), np.abs(theirs)) if absolute else row_spearman(mine, theirs)
    value = _finite_mean(rho)
    return TrustMetric(
        "randomisation_spearman", value,
        "Rank correlation with the map of the same model with random weights (Adebayo et al. "
        "2018); a map that explains the model should change when the model is destroyed.",
        "below 0.5 (low is healthy; high means the map mirrors the input, not the model)",
        ok=bool(value < 0.5), per_window=rho)


def attention_agreement(attributions, attention) -> TrustMetric:
    """Spearman correlation, per window, between the attention rollout each electrode
    receives and its attribution magnitude (summed over bands); the mean over windows.

    ``attention`` is ``(windows, depth, heads, E, E)`` or a rollout ``(windows, E, E)``.
    """
    attributions = np.asarray(attributions)
    att = np.asarray(attention.detach().cpu() if hasattr(attention, "detach") else attention)
    rollout = attention_rollout(att) if att.ndim == attributions.ndim + 2 else att
    if rollout.shape != (len(attributions), attributions.shape[1], attributions.shape[1]):
        raise ValueError(f"attention must be (windows, depth, heads, E, E) or a rollout "
                         f"(windows, E, E) for {attributions.shape[:2]}; got {att.shape}")
    rho = row_spearman(attention_received(rollout), np.abs(attributions).sum(axis=-1))
    value = _finite_mean(rho)
    return TrustMetric(
        "attention_agreement", value,
        "Spearman correlation between the attention each electrode receives (rollout) and its "
        "attribution; attention is not an explanation, so disagreement is common.",
        "no fixed range: above 0.5, attention and attribution tell the same story",
        per_window=rho)


def trust_metrics(model, X, attributions, method: str, target=None, baseline="zeros",
                  attention=None, smoothgrad: bool = False, n_perturb_samples: int = 32,
                  n_sensitivity_samples: int = 4, randomisation: bool = True,
                  reinit_seed: int = 0, absolute: bool = False,
                  **kwargs) -> dict[str, TrustMetric]:
    """Every check for ``attributions`` of ``X`` made by ``method`` (same arguments as the
    :func:`attribute` call that made them: ``target``, ``baseline``, ``smoothgrad``, ``seed``,
    ``subject_ids``, ``reference``, options...).

    Returns ``{name: TrustMetric}``: ``convergence_delta`` (integrated gradients without
    SmoothGrad), ``infidelity``, ``sensitivity_max``, ``randomisation_spearman`` (unless
    ``randomisation=False``; ``absolute`` as in :func:`sanity_check`) and
    ``attention_agreement`` (when ``attention`` is given).
    """
    p = prepare(model, X, target, method, baseline, smoothgrad, **kwargs)
    attributions = np.asarray(attributions, dtype=np.float32)
    if attributions.shape != p.X.shape:
        raise ValueError(f"attributions must have the windows' shape {p.X.shape}; got "
                         f"{attributions.shape}")
    out = {}
    if p.record.complete and not smoothgrad:
        out["convergence_delta"] = convergence_delta(p, attributions)
    out["infidelity"] = infidelity_score(p, attributions, n_perturb_samples)
    out["sensitivity_max"] = sensitivity_score(p, attributions, n_sensitivity_samples)
    if randomisation:
        out["randomisation_spearman"] = _randomisation(p, attributions, reinit_seed, absolute)
    if attention is not None:
        out["attention_agreement"] = attention_agreement(attributions, attention)
    return out
