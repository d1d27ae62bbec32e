"""Integrated gradients raised window by window to a completeness tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rbt.cli import main
from rbt.explain import attribute
from rbt.explain.integrated import gauss_legendre
from rbt.explain.methods import resolve_options
from rbt.model import RBTransformer


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return RBTransformer(num_electrodes=6, embed_dim=16, depth=2, heads=2, head_dim=8,
                         mlp_hidden_dim=16, num_classes=3).eval()


@pytest.fixture(scope="module")
def X():
    return (2.0 * np.random.default_rng(5).standard_normal((24, 6, 4))).astype(np.float32)


def _change(model, X, target):
    with torch.no_grad():
        x = torch.from_numpy(X)
        out = model(x) - model(torch.zeros_like(x))
    return out[torch.arange(len(X)), torch.as_tensor(target)].double().numpy()


def test_gauss_legendre_on_the_unit_interval_integrates_polynomials_exactly():
    a, w = gauss_legendre(5)
    assert w.sum() == pytest.approx(1.0) and (0 < a).all() and (a < 1).all()
    assert (w * a**9).sum() == pytest.approx(1 / 10, rel=1e-12)  # degree 2n - 1


def test_every_window_meets_the_tolerance_and_only_those_above_it_are_raised(model, X):
    pred = model(torch.from_numpy(X)).argmax(-1).numpy()
    fixed, low = attribute(model, X, n_steps=4, tolerance=None, with_report=True)
    tol = float(np.quantile(low.delta, 0.5))  # about half the windows miss it at 4 points
    a, report = attribute(model, X, n_steps=4, tolerance=tol, with_report=True)
    delta = np.abs(a.reshape(len(a), -1).sum(axis=1, dtype=np.float64) - _change(model, X, pred))
    np.testing.assert_allclose(report.delta, delta, rtol=1e-4, atol=1e-6)
    assert (report.delta <= tol).all() and report.not_met == 0
    raised = report.n_steps > 4
    np.testing.assert_array_equal(raised, low.delta > tol)
    assert report.raised == raised.sum() > 0
    # the windows left at 4 points are exactly the fixed-step ones; the raised ones are those
    # of a fixed run at the points they were raised to
    np.testing.assert_array_equal(a[~raised], fixed[~raised])
    for k in np.unique(report.n_steps[raised]):
        rows = report.n_steps == k
        again = attribute(model, X[rows], target=pred[rows], n_steps=int(k), tolerance=None)
        np.testing.assert_allclose(a[rows], again, rtol=1e-5, atol=1e-7)
    assert f"{report.raised} of {len(X)} windows raised" in report.summary()


def test_no_window_raised_equals_fixed_steps_and_captum(model, X):
    from captum.attr import IntegratedGradients

    adaptive, report = attribute(model, X, n_steps=32, tolerance=1.0, with_report=True)
    assert report.raised == 0
    np.testing.assert_array_equal(adaptive, attribute(model, X, n_steps=32, tolerance=None))
    pred = model(torch.from_numpy(X)).argmax(-1)
    theirs = IntegratedGradients(model).attribute(torch.from_numpy(X), target=pred, n_steps=32)
    np.testing.assert_allclose(adaptive, theirs.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_a_window_that_cannot_meet_it_stops_at_max_steps(model, X):
    a, report = attribute(model, X[:3], n_steps=2, tolerance=1e-12, max_steps=8,
                          with_report=True)
    assert (report.n_steps == 8).all() and report.not_met == 3
    assert "still above the tolerance at 8 points" in report.summary()


def test_options_are_checked():
    for bad, words in (({"tolerance": 0}, "tolerance must be a finite number > 0"),
                       ({"tolerance": float("nan")}, "tolerance must be"),
                       ({"tolerance": "1e-3"}, "tolerance must be"),
                       ({"n_steps": 64, "max_steps": 32}, "max_steps (32) must be at least"),
                       ({"max_steps": 0}, "max_steps must be an integer from 1 to 1000")):
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            resolve_options("ig", False, bad)
    assert resolve_options("ig", False, {"tolerance": None})["tolerance"] is None


def test_cli_rejects_a_bad_tolerance(capsys, tmp_path):
    for bad in ("0", "-1", "abc", "inf"):
        with pytest.raises(SystemExit) as err:
            main(["explain", "--model", str(tmp_path), "--source", "demo", "--ig-tolerance",
                  bad, "--out", str(tmp_path / "x.npz")])
        assert err.value.code == 2
        assert "--ig-tolerance: " in capsys.readouterr().err


def test_the_bench_compares_captum_and_rbt_on_cpu():
    from bench.explain import ig_bench

    r = ig_bench(n_windows=3, device="cpu")
    np.testing.assert_allclose(r["rbt50"]["attr"], r["captum"]["attr"], rtol=1e-4, atol=1e-6)
    assert r["report"].tolerance == 1e-4 and len(r["report"].delta) == 3
    assert r["rbt"]["worst"] <= 1e-4 and r["captum"]["worst"] < 1e-4
