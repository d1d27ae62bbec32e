"""Attributions, trust metrics and aggregation on real models with real Captum."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rbt.explain import (
    METHODS,
    TrustMetric,
    aggregate,
    attention_agreement,
    attribute,
    baseline_reference,
    class_difference,
    compare_groups,
    explanation_table,
    make_baseline,
    randomised_copy,
    row_spearman,
    sanity_check,
    trust_metrics,
)
from rbt.model import RBTransformer

CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "demo-checkpoint"
E, B = 6, 4


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(1).normal(size=(7, E, B)).astype(np.float32)


@pytest.fixture(scope="module")
def model(X):
    """A small model trained a few steps, so that its predictions differ between windows."""
    torch.manual_seed(0)
    model = RBTransformer(num_electrodes=E, embed_dim=16, depth=2, heads=2, head_dim=8,
                          mlp_hidden_dim=16, num_classes=3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _outputs(model, X, target, output="logit"):
    with torch.no_grad():
        out = model(torch.as_tensor(X, dtype=torch.float32))
        out = torch.softmax(out, -1) if output == "probability" else out
    return out[torch.arange(len(X)), torch.as_tensor(target)].numpy()


def _predicted(model, X):
    with torch.no_grad():
        return model(torch.as_tensor(X)).argmax(-1).numpy()


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gives_windows_electrodes_bands(model, X, method):
    a = attribute(model, X, method=method, internal_batch_size=64)
    assert a.shape == X.shape and a.dtype == np.float32
    assert np.isfinite(a).all() and np.abs(a).sum() > 0
    sg = attribute(model, X, method=method, smoothgrad=True, nt_samples=3,
                   internal_batch_size=64)
    assert sg.shape == X.shape and sg.dtype == np.float32
    assert not np.allclose(sg, a)  # the noise changes the map
    np.testing.assert_array_equal(sg, attribute(model, X, method=method, smoothgrad=True,
                                                nt_samples=3, internal_batch_size=64))


@pytest.mark.parametrize("method", ["occlusion", "feature_ablation"])
def test_masks_cover_whole_electrodes_or_bands(model, X, method):
    cells = attribute(model, X, method=method, mask="cell")
    electrodes = attribute(model, X, method=method, mask="electrode")
    bands = attribute(model, X, method=method, mask="band")
    assert (np.ptp(electrodes, axis=2) == 0).all()  # one value per electrode
    assert (np.ptp(bands, axis=1) == 0).all()  # one value per band
    # removing a whole electrode is its own experiment, not the sum of single cells
    assert not np.allclose(electrodes[:, :, 0], cells.sum(axis=2))
    # removing electrode 2 (all bands) drops the output by exactly its attribution
    target = _predicted(model, X)
    removed = X.copy()
    removed[:, 2, :] = 0
    drop = _outputs(model, X, target) - _outputs(model, removed, target)
    np.testing.assert_allclose(electrodes[:, 2, 0], drop, rtol=1e-4, atol=1e-6)


def test_feature_ablation_with_own_groups(model, X):
    groups = np.repeat([[0], [0], [0], [1], [1], [1]], B, axis=1)  # two halves of the head
    a = attribute(model, X, method="feature_ablation", feature_mask=groups)
    assert len(np.unique(a[0])) == 2
    with pytest.raises(ValueError, match="feature_mask"):
        attribute(model, X, method="feature_ablation", feature_mask=np.zeros((E, B + 1), int))


def test_target_none_explains_the_predicted_class(model, X):
    pred = _predicted(model, X)
    assert len(set(pred)) > 1  # windows predicted differently, so the test can tell
    np.testing.assert_array_equal(attribute(model, X), attribute(model, X, target=pred))
    other = (pred + 1) % 3
    assert not np.allclose(attribute(model, X), attribute(model, X, target=other))
    np.testing.assert_array_equal(attribute(model, X, target=1),
                                  attribute(model, X, target=np.ones(len(X), dtype=int)))


@pytest.mark.parametrize("output", ["logit", "probability"])
def test_integrated_gradients_completeness_within_the_reported_delta(model, X, output):
    from captum.attr import IntegratedGradients

    target = _predicted(model, X)
    a = attribute(model, X, n_steps=64, tolerance=None, output=output)
    change = _outputs(model, X, target, output) - _outputs(model, np.zeros_like(X), target, output)
    delta = trust_metrics(model, X, a, "integrated_gradients", n_steps=64, output=output,
                          randomisation=False)["convergence_delta"]
    np.testing.assert_allclose(a.sum(axis=(1, 2)) - change, delta.per_window, atol=1e-6)
    assert delta.value < 0.01 and delta.ok
    if output == "logit":  # Captum's own delta for the same computation
        _, captum_delta = IntegratedGradients(model).attribute(
            torch.from_numpy(X), target=torch.from_numpy(target), n_steps=64,
            return_convergence_delta=True)
        np.testing.assert_allclose(delta.per_window, captum_delta.numpy(), atol=1e-5)


def test_batching_does_not_change_the_result(model, X):
    small = attribute(model, X, n_steps=20, internal_batch_size=2)
    big = attribute(model, X, n_steps=20, internal_batch_size=4096)
    np.testing.assert_allclose(small, big, rtol=1e-4, atol=1e-6)
    shap = [attribute(model, X, method="gradient_shap", baseline="subject_mean",
                      subject_ids=list("aabbbcc"), internal_batch_size=ibs) for ibs in (40, 400)]
    assert shap[0].shape == X.shape and np.isfinite(shap[1]).all()


def test_attribution_leaves_the_models_gradient_flags_as_they_were(model, X):
    from captum.attr import IntegratedGradients

    model.classification_head.norm.weight.requires_grad_(False)  # one frozen by the user
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    ours = attribute(model, X, target=1, n_steps=16, tolerance=None)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before
    model.classification_head.norm.weight.requires_grad_(True)
    theirs = IntegratedGradients(model).attribute(torch.from_numpy(X), target=1, n_steps=16)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_subject_mean_baseline_uses_each_subjects_windows(model, X):
    subjects = np.array(["a", "a", "a", "b", "b", "b", "c"])
    base = make_baseline(X, "subject_mean", subject_ids=subjects)
    np.testing.assert_allclose(base[0], X[:3].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(base[4], X[3:6].mean(axis=0), rtol=1e-6)
    a = attribute(model, X, baseline="subject_mean", subject_ids=subjects)
    np.testing.assert_allclose(a, attribute(model, X, baseline=base), rtol=1e-6)
    assert np.abs(a[6]).max() == 0  # subject c's only window is its own mean: nothing changed
    # with a reference set, the means come from it
    ref = np.random.default_rng(5).normal(size=(10, E, B)).astype(np.float32)
    ref_subjects = np.array(list("aaaaabbbcc"))
    base = make_baseline(X, "subject_mean", subject_ids=subjects, reference=ref,
                         reference_subject_ids=ref_subjects)
    np.testing.assert_allclose(base[3], ref[5:8].mean(axis=0), rtol=1e-6)


def test_sample_baseline_draws_other_windows_reproducibly(X):
    base = make_baseline(X, "sample", seed=3)
    matches = [[np.array_equal(b, x) for x in X] for b in base]
    assert all(sum(m) == 1 for m in matches)  # each baseline is one window of X...
    assert not any(m[i] for i, m in enumerate(matches))  # ...never the window itself
    np.testing.assert_array_equal(base, make_baseline(X, "sample", seed=3))
    assert not np.array_equal(base, make_baseline(X, "sample", seed=4))
    shap = make_baseline(X, "sample", method="gradient_shap", n_baselines=4)
    assert shap.shape == (4, E, B)


def test_baseline_reference_never_offers_an_explained_window(X):
    """What a front end passes for ``X[rows]``: "sample" draws only from the other windows."""
    rows = [0, 2, 5]
    kw = baseline_reference("sample", X, rows)
    np.testing.assert_array_equal(kw["reference"], X[[1, 3, 4, 6]])
    for seed in range(5):
        base = make_baseline(X[rows], "sample", seed=seed, **kw)
        drawn = {j for b in base for j in range(len(X)) if np.array_equal(b, X[j])}
        assert drawn and not drawn & set(rows)
    shap = make_baseline(X[rows], "sample", method="gradient_shap", **kw)
    assert not any(np.array_equal(b, X[i]) for b in shap for i in rows)
    mask = np.zeros(len(X), bool)
    mask[rows] = True
    np.testing.assert_array_equal(baseline_reference("sample", X, mask)["reference"],
                                  kw["reference"])
    # every window explained: each draws from the others, never itself
    assert baseline_reference("sample", X, None) == {}
    assert baseline_reference("sample", X, np.arange(len(X))[::-1]) == {}
    with pytest.raises(ValueError, match="other than the explained"):
        baseline_reference("sample", X[:2], [0, 1, 1])
    # subject means come from every window of the subject, explained or not
    subjects = np.array(list("aaabbbc"))
    kw = baseline_reference("subject_mean", X, [1, 4], subjects)
    assert list(kw["subject_ids"]) == ["a", "b"]
    base = make_baseline(X[[1, 4]], "subject_mean", **kw)
    np.testing.assert_allclose(base, [X[:3].mean(axis=0), X[3:6].mean(axis=0)], rtol=1e-6)
    assert baseline_reference("zeros", X, rows) == {}
    assert baseline_reference(np.zeros((E, B)), X, rows) == {}
    with pytest.raises(ValueError, match="subject_ids"):
        baseline_reference("subject_mean", X, rows)
    with pytest.raises(ValueError, match="baseline must be one of"):
        baseline_reference("ones", X, rows)


def test_baselines_carry_a_label_and_a_meaning():
    from rbt.explain import BASELINES

    assert list(BASELINES) == ["zeros", "subject_mean", "sample"]
    for name, b in BASELINES.items():
        assert b.name == name and b.label and b.meaning.endswith(".")
    assert "never an explained" in BASELINES["sample"].meaning


@pytest.mark.parametrize("method", ["gradient_shap", "integrated_gradients"])
def test_attribute_leaves_the_global_generators_alone(model, X, method):
    """Nothing process-wide is seeded, even while a call runs: other threads (the dashboard's
    sessions) drawing from NumPy's or torch's global generator see no change."""
    def np_global():  # the legacy global generator is what is checked here
        return np.random.get_state()[1].copy()  # noqa: NPY002

    np_before, torch_before = np_global(), torch.random.get_rng_state()
    during = []

    def look(module, args, out):
        during.append((np_global(), torch.random.get_rng_state().clone()))

    hook = model.register_forward_hook(look)
    try:
        runs = [attribute(model, X, method=method, smoothgrad=True, nt_samples=3, seed=s,
                          baseline="sample", n_steps=8) if method == "integrated_gradients"
                else attribute(model, X, method=method, smoothgrad=True, nt_samples=3,
                               seed=s, baseline="sample", n_samples=4) for s in (5, 5, 6)]
        trust_metrics(model, X[:2], runs[0][:2], method, seed=5, baseline="sample",
                      smoothgrad=True, nt_samples=3, n_perturb_samples=4,
                      n_sensitivity_samples=2,
                      **({"n_steps": 8} if method == "integrated_gradients"
                         else {"n_samples": 4}))
    finally:
        hook.remove()
    assert during
    for np_state, torch_state in during:
        np.testing.assert_array_equal(np_state, np_before)
        assert torch.equal(torch_state, torch_before)
    np.testing.assert_array_equal(np_global(), np_before)
    assert torch.equal(torch.random.get_rng_state(), torch_before)
    np.testing.assert_array_equal(runs[0], runs[1])  # the same seed, the same map
    assert not np.allclose(runs[0], runs[2])


def test_randomised_copy_draws_from_its_own_generator(model):
    torch_before = torch.random.get_rng_state()
    a, b, c = randomised_copy(model, 3), randomised_copy(model, 3), randomised_copy(model, 4)
    assert torch.equal(torch.random.get_rng_state(), torch_before)
    for (name, pa), pb, pc, p in zip(a.named_parameters(), b.parameters(), c.parameters(),
                                     model.parameters()):
        assert torch.equal(pa, pb), name
        if "norm" not in name:  # layer norms are reset to ones and zeros
            assert not torch.equal(pa, pc) and not torch.equal(pa, p), name


def test_captum_gelu_rule_is_registered_once_not_per_call(model, X):
    from captum.attr._core import deep_lift

    from rbt.explain import attribution

    attribute(model, X[:2], method="deeplift")
    assert deep_lift.SUPPORTED_NON_LINEAR[torch.nn.GELU] is deep_lift.nonlinear
    mine = deep_lift.SUPPORTED_NON_LINEAR[torch.nn.GELU]
    try:
        deep_lift.SUPPORTED_NON_LINEAR[torch.nn.GELU] = deep_lift.softmax  # someone else's
        attribute(model, X[:2], method="deeplift")
        assert deep_lift.SUPPORTED_NON_LINEAR[torch.nn.GELU] is deep_lift.softmax
    finally:
        deep_lift.SUPPORTED_NON_LINEAR[torch.nn.GELU] = mine
    assert attribution._captum.cache_info().misses == 1


def test_bad_input_is_a_clear_value_error(model, X):
    with pytest.raises(ValueError, match="method must be one of"):
        attribute(model, X, method="lime")
    with pytest.raises(ValueError, match="baseline must be one of"):
        attribute(model, X, baseline="ones")
    with pytest.raises(ValueError, match=r"\(windows, 6 electrodes, 4 bands\); got \(6, 4\)"):
        attribute(model, X[0])
    with pytest.raises(ValueError, match="subject_ids"):
        attribute(model, X, baseline="subject_mean")
    with pytest.raises(ValueError, match="takes the options"):
        attribute(model, X, n_step=10)
    with pytest.raises(ValueError, match="n_steps must be an integer from 1 to 1000"):
        attribute(model, X, n_steps=0)
    with pytest.raises(ValueError, match="mask must be one of"):
        attribute(model, X, method="occlusion", mask="region")
    with pytest.raises(ValueError, match=r"target classes must be in \[0, 3\)"):
        attribute(model, X, target=3)
    with pytest.raises(ValueError, match="finite"):
        attribute(model, np.full_like(X, np.nan))
    with pytest.raises(ValueError, match="other windows"):
        attribute(model, X[:1], baseline="sample")


def test_trust_metrics_come_with_meanings(model, X):
    from rbt.infer import predict_array

    a = attribute(model, X)
    att = predict_array(model, X, attention=True, device="cpu").attention
    metrics = trust_metrics(model, X, a, "integrated_gradients", attention=att)
    assert set(metrics) == {"convergence_delta", "infidelity", "sensitivity_max",
                            "randomisation_spearman", "attention_agreement"}
    for name, m in metrics.items():
        assert isinstance(m, TrustMetric) and m.name == name
        assert np.isfinite(m.value) and m.meaning and m.healthy
    assert 0 <= metrics["infidelity"].value <= 1
    assert metrics["sensitivity_max"].value > 0
    # a method without completeness has no delta; no attention, no agreement
    sal = trust_metrics(model, X, attribute(model, X, method="saliency"), "saliency")
    assert set(sal) == {"infidelity", "sensitivity_max", "randomisation_spearman"}
    again = trust_metrics(model, X, a, "integrated_gradients", attention=att)
    assert {k: m.value for k, m in again.items()} == {k: m.value for k, m in metrics.items()}


@pytest.mark.parametrize("method", ["occlusion", "feature_ablation", "integrated_gradients"])
@pytest.mark.parametrize("n", [1, 3])
def test_trust_metrics_on_one_or_a_few_windows(model, X, method, n):
    # a single window with a perturbation method used to trip Captum's target batching
    attributions = attribute(model, X[:n], method=method)
    metrics = trust_metrics(model, X[:n], attributions, method, randomisation=False,
                            n_perturb_samples=4, n_sensitivity_samples=4)
    sens = metrics["sensitivity_max"]
    assert np.isfinite(sens.value) and sens.value >= 0
    assert sens.per_window.shape == (n,)


def test_attention_agreement_is_a_spearman_correlation():
    rollout = np.tile(np.linspace(0.1, 0.3, E)[None, None, :], (2, E, 1))
    rollout /= rollout.sum(axis=-1, keepdims=True)
    attr = np.zeros((2, E, B))
    attr[0] = np.arange(E)[:, None]  # same order as the attention received
    attr[1] = -np.arange(E)[::-1, None]  # magnitudes (signs are dropped) in reverse order
    m = attention_agreement(attr, rollout)
    np.testing.assert_allclose(m.per_window, [1.0, -1.0])
    assert m.value == pytest.approx(0.0)
    np.testing.assert_allclose(row_spearman([[1, 2, 3]], [[10, 30, 20]]), [0.5])


def test_randomised_copy_leaves_the_model_alone(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    clone = randomised_copy(model, seed=1)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    changed = [k for k, v in clone.state_dict().items()
               if not torch.equal(v, before[k]) and "norm" not in k]
    assert len(changed) == len([k for k in before if "norm" not in k])  # every weight redrawn


def test_aggregation_and_class_difference_on_a_hand_made_table():
    values = np.arange(6 * 2, dtype=float).reshape(6, 2)
    table = explanation_table(
        pd.DataFrame({"subject": ["s1", "s1", "s2", "s2", "s2", "s3"],
                      "trial": [1, 2, 1, 1, 2, 1]}),
        y=[0, 1, 1, 0, 1, 0], pred=[0, 1, 0, 0, 1, 1], class_names=["low", "high"])
    assert list(table["correct"]) == [True, True, False, True, True, False]
    by_subject = aggregate(values, table, "subject")
    assert list(by_subject) == ["s1", "s2", "s3"]
    np.testing.assert_allclose(by_subject["s2"], [6.0, 7.0])
    np.testing.assert_allclose(aggregate(values, table, "true")["high"], [14 / 3, 17 / 3])
    np.testing.assert_allclose(aggregate(values, table, "predicted")["low"], [10 / 3, 13 / 3])
    ok = aggregate(values, table, "true", where={"correct": True})
    np.testing.assert_allclose(ok["high"], [5.0, 6.0])
    np.testing.assert_allclose(ok["low"], [3.0, 4.0])
    pairs = aggregate(values, table, ["subject", "trial"], where=table["subject"] != "s3")
    np.testing.assert_allclose(pairs[("s2", 1)], [5.0, 6.0])
    np.testing.assert_allclose(aggregate(values, table, "correct")[False], [7.0, 8.0])
    np.testing.assert_allclose(class_difference(values, table["true"], "high", "low"),
                               [14 / 3 - 16 / 3, 17 / 3 - 19 / 3])
    with pytest.raises(ValueError, match="no windows labelled 'neutral'"):
        class_difference(values, table["true"], "high", "neutral")
    mean_a, mean_b, diff = compare_groups(values, table["true"].to_numpy(), "high", "low")
    np.testing.assert_allclose(mean_a, [14 / 3, 17 / 3])
    np.testing.assert_allclose(mean_b, [16 / 3, 19 / 3])
    np.testing.assert_allclose(diff, mean_a - mean_b)
    with pytest.raises(ValueError, match="no column 'session'"):
        aggregate(values, table, "session")


# --- the shipped demo checkpoint -------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_valence):
    if not (CHECKPOINT / "model.safetensors").exists():
        pytest.skip(f"the demo checkpoint has not been built into {CHECKPOINT}")
    from rbt.checkpoint import load_checkpoint
    from rbt.data import with_labels
    from rbt.infer import predict_array
    from rbt.model_fit import fit_data

    ck = load_checkpoint(CHECKPOINT)
    fs = with_labels(dataclasses.replace(demo_valence[0]), ck.card.target, ck.card.task)
    X = fit_data(ck, fs).X
    return ck.model, ck.card, fs, X, predict_array(ck.model, X, device="cpu").pred


def test_integrated_gradients_find_the_planted_cells(demo):
    """Mean IG toward class c over correctly classified windows of class c ranks the 3 cells
    planted for c (PLANTED_EFFECTS) within the top 6 of the 128 electrode x band cells.

    The baseline is zeros: the demo's BDE, like DEAP's, is baseline-subtracted, so zero means
    "no change from the pre-stimulus recording", and a planted effect is a stimulus-only
    change, so each window's attribution measures its evidence *for* c. A subject-mean
    baseline asks a contrastive question instead (what differs from this person's average),
    and then the *absence* of the other class's effect counts as evidence for c too.
    """
    from rbt.data.demo import PLANTED_EFFECTS

    model, card, fs, X, pred = demo
    bands = list(fs.bands)
    rng = np.random.default_rng(0)
    for c, name in enumerate(card.class_names):
        effect = PLANTED_EFFECTS[card.target][name]
        planted = [list(card.ch_names).index(ch) * B + bands.index(effect["band"])
                   for ch in effect["channels"]]
        correct = np.flatnonzero((fs.y == c) & (pred == c))
        assert len(correct) > 0.8 * (fs.y == c).sum()
        idx = rng.choice(correct, 48, replace=False)
        mean = attribute(model, X[idx], target=c, internal_batch_size=1024).mean(axis=0)
        order = np.argsort(-mean.ravel())
        ranks = sorted(int(np.flatnonzero(order == cell)[0]) + 1 for cell in planted)
        assert ranks[-1] <= 6, f"{name}: planted {effect} ranked {ranks} of {mean.size}"


def test_sanity_check_flags_a_randomised_model(demo):
    model, card, fs, X, pred = demo
    idx = np.random.default_rng(1).choice(len(X), 16, replace=False)
    trained = attribute(model, X[idx], n_steps=20)
    # the randomised model's maps are unlike the trained model's...
    rho = sanity_check(model, X[idx], attributions=trained, n_steps=20)
    assert rho < 0.5
    # ...while the statistic is 1 for an identical copy, so a map that ignored the weights
    # would be caught
    twin = attribute(copy.deepcopy(model), X[idx], target=pred[idx], n_steps=20)
    assert np.nanmean(row_spearman(trained, twin)) == pytest.approx(1.0)
    metric = trust_metrics(model, X[idx], trained, "integrated_gradients", n_steps=20)
    assert metric["randomisation_spearman"].value == pytest.approx(rho)
    assert metric["randomisation_spearman"].ok


def test_the_frozen_copy_is_made_once_per_model_state(model, X):
    from rbt.explain.attribution import frozen_copy

    first = frozen_copy(model)
    assert frozen_copy(model) is first  # the dashboard's clicks share it
    assert not any(p.requires_grad for p in first.parameters())
    before = attribute(model, X[:3], method="saliency")
    trained = copy.deepcopy(model)
    with torch.no_grad():  # training in place bumps the parameters' versions
        trained.bde_proj_layer.linear.weight.mul_(2.0)
    assert frozen_copy(trained) is not frozen_copy(model)
    assert not np.allclose(attribute(trained, X[:3], method="saliency"), before)
    with torch.no_grad():
        model.classification_head.mlp[-1].bias.add_(0.0)  # in place, even with no change
    again = frozen_copy(model)
    assert again is not first
    np.testing.assert_allclose(attribute(model, X[:3], method="saliency"), before)
