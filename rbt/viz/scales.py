"""Colour ranges and colour bars: signed values on a diverging scale centred on 0, unsigned ones
(attention, saliency, power) on a sequential scale from their minimum to their maximum.

A diverging scale says "white is zero, red is more, blue is less"; on values that are all
positive it wastes half the colours and suggests a sign that is not there. Whether values are
signed is the caller's knowledge where it has it (an attribution method's definition); else it
is read from the data: any negative value makes them signed.
"""

from __future__ import annotations

import numpy as np

from ._base import colorscale

DIVERGING = "RdBu_r"
SEQUENTIAL = "Viridis"


def finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]


def infer_signed(values, signed: bool | None = None) -> bool:
    """``signed`` when given; else whether any finite value is below 0."""
    if signed is not None:
        return bool(signed)
    v = finite(values)
    return bool(v.size and v.min() < 0)


def symmetric_range(values) -> tuple[float, float]:
    """(-m, m) with m the largest absolute finite value; (-1, 1) when there is none."""
    v = np.abs(finite(values))
    m = float(v.max()) if v.size else 0.0
    return (-m, m) if m > 0 else (-1.0, 1.0)


def value_range(values, symmetric: bool) -> tuple[float, float]:
    """The colour range for ``values``: symmetric about 0, or their min and max."""
    if symmetric:
        return symmetric_range(values)
    v = finite(values)
    if not v.size:
        return (0.0, 1.0)
    lo, hi = float(v.min()), float(v.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def color_range(values, *, signed: bool | None = None, symmetric: bool | None = None,
                scale: str | None = None) -> tuple[tuple[float, float], str]:
    """The colour range and scale name for ``values``.

    Signed values (given or inferred, :func:`infer_signed`) get a range symmetric about 0 and
    a diverging scale; unsigned ones their min to max and a sequential scale. ``symmetric`` and
    ``scale`` override either choice.
    """
    is_signed = infer_signed(values, signed)
    sym = is_signed if symmetric is None else symmetric
    return value_range(values, sym), scale or (DIVERGING if is_signed else SEQUENTIAL)


def ticks(lo: float, hi: float, n: int = 3) -> tuple[list[float], list[str]]:
    """``n`` round tick values inside (lo, hi) and their short labels; 0 is one of them when
    the range is symmetric about 0 and ``n`` is odd."""
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return [float(lo)], [f"{lo:.3g}"]
    step = 10.0 ** (np.floor(np.log10(span)) - 1)
    values = [float(np.round((lo + span * f) / step) * step) for f in np.linspace(0.1, 0.9, n)]
    values = [0.0 if abs(v) < step / 2 else v for v in values]
    return values, [f"{v:.3g}".replace("-", "\u2212") for v in values]


def colorbar(title: str | None, *, horizontal: bool = False, zrange=None, **place) -> dict:
    """A colour bar with a title and a few short tick labels. A horizontal one (beneath a map
    of a row) is titled above itself and gets 3 ticks at round values of ``zrange``, which fit
    under a narrow map (plotly.js's own choice may leave a single "0" there)."""
    # plotly.js picks the decimals a tick step needs; "e" keeps tiny values (1e-05) short
    bar = dict(title=dict(text=title or "value", font=dict(size=11)), thickness=12,
               exponentformat="e", tickfont=dict(size=10))
    if horizontal:
        bar.update(orientation="h")
        bar["title"]["side"] = "top"
        if zrange is not None:
            values, labels = ticks(float(zrange[0]), float(zrange[1]))
            bar.update(tickmode="array", tickvals=values, ticktext=labels)
        else:
            bar["nticks"] = 3
    else:
        bar.update(nticks=6)
    return {**bar, **place}


def coloraxis(zrange, scale, title: str | None, *, horizontal: bool = False, **place) -> dict:
    """A layout colour axis: range, resolved colour scale and a titled colour bar."""
    return dict(cmin=float(zrange[0]), cmax=float(zrange[1]), colorscale=colorscale(scale),
                colorbar=colorbar(title, horizontal=horizontal, zrange=zrange, **place))
