"""The attribution-method registry: names, aliases, options, costs, and adding a method."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbt.explain import (
    ALIASES,
    MASKS,
    METHOD_REGISTRY,
    METHODS,
    Method,
    attribute,
    method_record,
    passes_per_window,
    register_method,
)
from rbt.explain.methods import resolve_options
from rbt.model import RBTransformer

E, B = 6, 4


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(2).normal(size=(3, E, B)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return RBTransformer(num_electrodes=E, embed_dim=16, depth=2, heads=2, head_dim=8,
                         mlp_hidden_dim=16, num_classes=3).eval()


def test_every_method_is_one_record_with_what_menus_and_parsers_need():
    assert list(METHODS) == list(METHOD_REGISTRY)
    assert set(METHODS) == {"integrated_gradients", "saliency", "deeplift", "gradient_shap",
                            "occlusion", "feature_ablation"}
    assert MASKS == ("cell", "electrode", "band")
    for name, m in METHOD_REGISTRY.items():
        assert m.name == name and METHODS[name] == m.meaning
        assert m.label and m.cost and "\n" not in m.meaning
        assert method_record(name) is m and method_record(m.label.upper()) is m
    # the CLI's short names, each resolving to its method
    assert dict(ALIASES) == {"ig": "integrated_gradients", "grad": "saliency", "dl": "deeplift",
                             "shap": "gradient_shap", "gradshap": "gradient_shap",
                             "ablation": "feature_ablation"}
    for alias, name in ALIASES.items():
        assert method_record(alias.upper()).name == name
    assert method_record("integrated gradients").name == "integrated_gradients"
    assert method_record("Feature-Ablation").name == "feature_ablation"
    assert not method_record("saliency").uses_baseline
    assert [m.name for m in METHOD_REGISTRY.values() if m.complete] == ["integrated_gradients"]


def test_an_unknown_method_lists_the_names_and_aliases():
    with pytest.raises(ValueError, match="method must be one of") as err:
        method_record("lime")
    for word in (*METHODS, "ig = integrated_gradients", "shap = gradient_shap", "'lime'"):
        assert word in str(err.value)


def test_options_come_from_the_record_with_their_defaults():
    assert resolve_options("ig", False, {}) == {"output": "logit", "n_steps": 16,
                                                 "integration": "gausslegendre",
                                                 "tolerance": 1e-4, "max_steps": None}
    opts = resolve_options("occlusion", True, {"mask": "band"})
    assert opts["mask"] == "band" and opts["nt_samples"] == 10
    with pytest.raises(ValueError, match="saliency takes the options abs, output; got n_steps"):
        resolve_options("grad", False, {"n_steps": 3})
    with pytest.raises(ValueError, match="nt_type must be one of"):
        resolve_options("saliency", True, {"nt_type": "mean"})
    with pytest.raises(ValueError, match="leave stdevs at 0"):
        resolve_options("shap", True, {"stdevs": 0.5})


def test_passes_per_window_is_what_a_run_costs(model, X):
    """The cost a front end warns with is the number of model inputs a run evaluates."""
    seen = []
    hook = model.register_forward_hook(lambda mod, args, out: seen.append(len(args[0])))
    target = np.zeros(len(X), dtype=int)  # given, so no extra pass predicts it
    cases = [("integrated_gradients", {"n_steps": 7, "tolerance": None}), ("saliency", {}),
             ("deeplift", {}),
             ("gradient_shap", {"n_samples": 5}), ("occlusion", {"mask": "electrode"}),
             ("feature_ablation", {"mask": "band"})]
    try:
        for name, options in cases:
            seen.clear()
            attribute(model, X, target=target, method=name, internal_batch_size=4096,
                      **options)
            passes = passes_per_window(name, E, B, **options)
            # occlusion and ablation also run each window once unperturbed; integrated
            # gradients' completeness check runs each window and its baseline once
            extra = 0 if method_record(name).gradients else 1
            extra = 2 if name == "integrated_gradients" else extra
            assert sum(seen) == (passes + extra) * len(X), name
    finally:
        hook.remove()
    assert passes_per_window("ig", E, B) == 16
    assert passes_per_window("ig", E, B, smoothgrad=True, nt_samples=3) == 48
    assert passes_per_window("occlusion", E, B) == E * B
    assert passes_per_window("ablation", E, B, mask="electrode") == E


def test_smoothgrad_without_noise_is_the_method_itself(model, X):
    for method in ("integrated_gradients", "occlusion"):
        plain = attribute(model, X, method=method, n_steps=8) if method != "occlusion" \
            else attribute(model, X, method=method)
        opts = {"n_steps": 8} if method != "occlusion" else {}
        still = attribute(model, X, method=method, smoothgrad=True, nt_samples=3,
                          noise_level=0.0, **opts)
        np.testing.assert_allclose(still, plain, rtol=1e-5, atol=1e-6)
        var = attribute(model, X, method=method, smoothgrad=True, nt_samples=3,
                        noise_level=0.0, nt_type="vargrad", **opts)
        np.testing.assert_allclose(var, 0, atol=1e-6)


def test_gradient_shap_with_one_baseline_approaches_integrated_gradients(model, X):
    """With a single baseline, GradientSHAP's expectation is the integrated gradients."""
    ig = attribute(model, X, n_steps=64)
    shap = attribute(model, X, method="gradient_shap", n_samples=1000,
                     internal_batch_size=4096)
    err = np.abs(shap - ig).max() / np.abs(ig).max()
    assert err < 0.05, err
    # and it adds up to the output change in expectation too
    np.testing.assert_allclose(shap.sum(axis=(1, 2)), ig.sum(axis=(1, 2)),
                               atol=0.05 * np.abs(ig.sum(axis=(1, 2))).max())


def test_adding_a_method_is_one_record(model, X):
    def build(attr, fwd, x, base, opts, internal_batch_size, generator):
        return attr.InputXGradient(fwd), {}

    record = Method("input_x_gradient", "input times gradient",
                    "Input x gradient: the gradient at the window times the window.",
                    build, lambda o, e, b: 1, "one forward and backward pass",
                    aliases=("ixg",), uses_baseline=False)
    register_method(record)
    try:
        assert METHODS["input_x_gradient"] == record.meaning and ALIASES["ixg"] == record.name
        a = attribute(model, X, method="ixg", target=1)
        x = torch.from_numpy(X).requires_grad_()
        model(x)[:, 1].sum().backward()
        np.testing.assert_allclose(a, X * x.grad.numpy(), rtol=1e-5, atol=1e-7)
        assert passes_per_window("ixg", E, B, smoothgrad=True, nt_samples=4) == 4
        with pytest.raises(ValueError, match="already name a method"):
            register_method(Method("other", "other", "x", build, lambda o, e, b: 1, "one",
                                   aliases=("ig",)))
    finally:
        del METHOD_REGISTRY["input_x_gradient"]
    assert "ixg" not in ALIASES


def test_occlusion_equals_ablation_with_tiling_patches_and_differs_with_overlapping_ones(model, X):
    """What the occlusion record's meaning says beside the picker: with its default patches
    (they tile the window) it removes the same groups as feature ablation."""
    for mask in MASKS:
        occ = attribute(model, X, method="occlusion", mask=mask, device="cpu")
        abl = attribute(model, X, method="feature_ablation", mask=mask, device="cpu")
        np.testing.assert_array_equal(occ, abl)
    assert "same map" in METHOD_REGISTRY["occlusion"].meaning
    overlapping = attribute(model, X, method="occlusion", sliding_window_shapes=(2, 2),
                            strides=(1, 1), device="cpu")
    assert not np.allclose(overlapping, attribute(model, X, method="feature_ablation",
                                                  device="cpu"))


def test_signedness_follows_the_maps(model, X):
    for name, record in METHOD_REGISTRY.items():
        if name in ("occlusion", "feature_ablation", "gradient_shap"):
            continue  # slower; their sign follows the output change, as integrated gradients'
        maps = attribute(model, X, method=name, device="cpu")
        assert record.signed() == bool((maps < 0).any()), name
    assert METHOD_REGISTRY["saliency"].signed(abs=False)


def test_deeplift_beside_other_attributions_in_threads_gives_what_it_gives_alone(model, X):
    # the dashboard explains windows in several threads with one model: DeepLift's hooks must
    # not reach another thread's passes, nor theirs its own
    import threading

    from rbt.explain import attribute

    alone = {m: attribute(model, X, method=m) for m in ("deeplift", "saliency")}
    errors, found = [], {"deeplift": [], "saliency": []}

    def run(method):
        try:
            for _ in range(6):
                found[method].append(attribute(model, X, method=method))
        except Exception as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run, args=(m,)) for m in ("deeplift", "saliency")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for method, runs in found.items():
        assert len(runs) == 6
        for got in runs:
            np.testing.assert_array_equal(got, alone[method])
