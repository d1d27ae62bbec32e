"""The dashboard's explanation inputs and trust numbers, without Streamlit.

:func:`attribution_inputs` says what :func:`rbt.explain.attribute` needs for a selection of
windows besides the windows themselves; the pages' cached functions call it, and so do the
tests, so the dashboard's path is tested as it runs.
"""

from __future__ import annotations

import numpy as np

from rbt.explain import baseline_reference


def attribution_inputs(fit, rows, baseline: str, target: str) -> dict:
    """Keyword arguments of :func:`rbt.explain.attribute` for the windows ``fit.X[rows]``: the
    explained class (the true one for ``target="true"`` when the labels are the model's, else
    None: the predicted one), the baseline, and for baselines built from other windows where
    they come from (rbt's rule, :func:`~rbt.explain.inputs.baseline_reference`: a "sample"
    baseline is never an explained window)."""
    idx = np.asarray(list(rows), dtype=np.int64)
    subjects = fit.table["subject"].to_numpy()
    return dict(target=fit.y[idx] if target == "true" and fit.y is not None else None,
                baseline=baseline,
                **baseline_reference(baseline, fit.X, rows=idx, subject_ids=subjects))


def trust_numbers(model, X: np.ndarray, attributions: np.ndarray, method: str, *,
                  target=None, baseline: str = "zeros", device="auto",
                  n_perturb_samples: int = 16, n_sensitivity_samples: int = 2,
                  **attribute_options) -> list[dict]:
    """:func:`rbt.explain.trust_metrics` for a few windows, kept interactive (fewer samples),
    with the attention rollout agreement; plain dicts for caching and display."""
    from rbt.explain import trust_metrics
    from rbt.infer import predict_array

    attention = predict_array(model, X, device=device, batch_size=max(len(X), 1),
                              attention=True).attention
    metrics = trust_metrics(model, X, attributions, method, target=target, baseline=baseline,
                            attention=attention, device=device,
                            n_perturb_samples=n_perturb_samples,
                            n_sensitivity_samples=n_sensitivity_samples, **attribute_options)
    return [{"name": m.name, "value": float(m.value), "meaning": m.meaning,
             "healthy": m.healthy, "ok": m.ok} for m in metrics.values()]
