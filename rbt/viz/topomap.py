"""Scalp topomaps in Plotly: an interpolated head map clipped to the head circle, with MNE's
outline (head, nose, ears), sensor markers named on hover, optional contours, or markers only.

MNE's public API draws topomaps with matplotlib (``mne.viz.plot_topomap``) but returns neither
the interpolated grid nor the outline, and one call takes about 0.3 s, too slow for a dashboard
that redraws ten maps on every click. So we repeat MNE's method here, as one linear operator
per montage: Clough-Tocher interpolation over the sensors plus a ring of border points whose
values are the mean of their Delaunay neighbours (``extrapolate="head"``, ``border="mean"``,
``image_interp="cubic"``, with the same ring MNE places). Any map is then one matrix product.
``tests/test_viz.py`` checks the grid against the image ``plot_topomap`` draws, and the outline
against the lines it draws. Positions are :func:`rbt.montage.positions_2d` (MNE's projection).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from scipy.interpolate import CloughTocher2DInterpolator
from scipy.spatial import Delaunay

from ..montage import head_sphere, positions_2d
from ._base import column_domains, figure, margin, plain
from .scales import color_range, coloraxis, infer_signed

OUTLINE_COLOR = "#444"
MODES = ("interpolated", "markers")
HALO = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff"  # written names stay legible on dark colours
INTERPOLATED_SYMBOLS = {False: "circle-open", True: "circle-x"}  # dots on a map; coloured dots


def interpolated_note(interpolated: Sequence[str]) -> dict:
    """The figure's key to the ringed electrodes, as a layout annotation (bottom left)."""
    return dict(text=f"○ interpolated: {plain(', '.join(interpolated))}", x=0, y=0,
                xref="paper", yref="paper", xanchor="left", yanchor="bottom",
                showarrow=False, font=dict(size=10, color="#555"), name="interpolated")
_AXIS = dict(visible=False, showgrid=False, zeroline=False, fixedrange=True)


# --------------------------------------------------------------------------------------------
# Geometry: outline and interpolation operator


@functools.lru_cache(maxsize=1)
def head_outline() -> dict[str, np.ndarray]:
    """Head circle, nose and ears as (2, n) arrays, in MNE's proportions (``outlines="head"``)."""
    x, y, _, radius = head_sphere()
    angle = np.linspace(0, 2 * np.pi, 101)
    dx = np.exp(np.arccos(np.deg2rad(12)) * 1j)
    ear_x = np.array([0.497, 0.510, 0.518, 0.5299, 0.5419, 0.54, 0.547, 0.532, 0.510,
                      0.489]) * (radius * 2)
    ear_y = np.array([0.0555, 0.0775, 0.0783, 0.0746, 0.0555, -0.0055, -0.0932, -0.1313,
                      -0.1384, -0.1199]) * (radius * 2) + y
    return {
        "head": np.array([np.cos(angle) * radius + x, np.sin(angle) * radius + y]),
        "nose": np.array([np.array([-dx.real, 0, dx.real]) * radius + x,
                          np.array([dx.imag, 1.15, dx.imag]) * radius + y]),
        "ear_left": np.array([-ear_x + x, ear_y]),
        "ear_right": np.array([ear_x + x, ear_y]),
    }


def _border_points(pos: np.ndarray) -> tuple[np.ndarray, Delaunay]:
    """MNE's ``extrapolate="head"`` ring and the triangulation of sensors plus ring."""
    radius = head_sphere()[3]
    # as mne.viz.plot_topomap: the clip circle is centred on the head frame's origin and grows
    # to include the farthest sensor
    clip = radius * max(1.0, np.linalg.norm(pos, axis=1).max() * 1.01 / radius)
    tri = Delaunay(pos, incremental=True)
    i1, i2, i3 = tri.simplices.T
    distance = np.median(np.concatenate([np.linalg.norm(pos[a] - pos[b], axis=1)
                                         for a, b in ((i1, i2), (i2, i3))]))
    angle = np.arcsin(min(distance / clip, 1))
    n = max(12, int(np.round(2 * np.pi / angle)))
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ring = np.column_stack([np.cos(theta), np.sin(theta)]) * (clip * 1.1 + distance)
    tri.add_points(ring)
    tri.close()
    return ring, tri


def interpolation_matrix(ch_names: Sequence[str], points: np.ndarray) -> np.ndarray:
    """(len(points), E) weights: ``W @ values`` is MNE's interpolated map at ``points``."""
    pos = positions_2d(list(ch_names))
    n = len(pos)
    if n < 4:
        raise ValueError(f"an interpolated topomap needs at least 4 electrodes; got {n}. "
                         "Use mode='markers'.")
    ring, tri = _border_points(pos)
    # each ring point takes the mean of its sensor neighbours (MNE's border="mean"); a ring point
    # with none takes the mean of the other ring points
    indptr, indices = tri.vertex_neighbor_vertices
    extra = np.zeros((len(ring), n))
    used = np.zeros(len(ring), bool)
    for k in range(len(ring)):
        ngb = indices[indptr[n + k]: indptr[n + k + 1]]
        ngb = ngb[ngb < n]
        if len(ngb):
            extra[k, ngb] = 1.0 / len(ngb)
            used[k] = True
    if used.any() and not used.all():
        extra[~used] = extra[used].mean(axis=0)
    basis = np.vstack([np.eye(n), extra])  # values at sensors + ring, per unit input
    # Clough-Tocher is linear in the values, so interpolating the basis gives the operator
    weights = CloughTocher2DInterpolator(tri, basis)(points)
    return np.nan_to_num(weights, nan=0.0)


_GRID_MARGIN = 1.08  # the grid reaches a little past the head circle; a mask trims it smoothly


@functools.lru_cache(maxsize=16)
def _grid(ch_names: tuple[str, ...], res: int):
    x0, y0, _, radius = head_sphere()
    half = radius * _GRID_MARGIN
    xs = np.linspace(x0 - half, x0 + half, res)
    ys = np.linspace(y0 - half, y0 + half, res)
    gx, gy = np.meshgrid(xs, ys)
    inside = ((gx - x0) ** 2 + (gy - y0) ** 2 <= half**2).ravel()
    weights = interpolation_matrix(ch_names, np.column_stack([gx.ravel(), gy.ravel()]))
    weights[~inside] = np.nan
    return xs, ys, weights


def interpolate(values, ch_names: Sequence[str], res: int = 64):
    """(xs, ys, z) with z of shape (res, res): the interpolated map on a square grid around the
    head, NaN beyond 8 % outside the head circle (figures mask it at the circle itself)."""
    xs, ys, weights = _grid(tuple(ch_names), int(res))
    return xs, ys, (weights @ np.asarray(values, dtype=float)).reshape(res, res)


# --------------------------------------------------------------------------------------------
# Traces and figures


@functools.lru_cache(maxsize=1)
def _outline_xy() -> tuple[list, list]:
    xs, ys = [], []
    for part in head_outline().values():
        xs += list(part[0]) + [None]
        ys += list(part[1]) + [None]
    return xs, ys


def _axis_ranges() -> tuple[list[float], list[float]]:
    x0, y0, _, radius = head_sphere()
    pad = radius * 0.2
    return ([x0 - radius - pad, x0 + radius + pad],
            [y0 - radius - pad * 0.5, y0 + radius * 1.2])


@functools.lru_cache(maxsize=1)
def _mask_xy() -> tuple[np.ndarray, np.ndarray]:
    """A white ring from the head circle out past the axes, as one polygon with a hairline
    slit, so the map looks clipped to the head circle with a smooth edge."""
    x0, y0, _, radius = head_sphere()
    (xa, xb), (ya, yb) = _axis_ranges()
    big = 2 * max(xb - xa, yb - ya)
    angle = np.linspace(0, 2 * np.pi, 181)
    cx, cy = x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)
    xs = np.r_[[x0 + big, x0 + big, x0 - big, x0 - big, x0 + big, x0 + big], cx[::-1]]
    ys = np.r_[[y0, y0 + big, y0 + big, y0 - big, y0 - big, y0], cy[::-1]]
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)  # arrays are sent as binary
    xs.setflags(write=False)
    ys.setflags(write=False)  # shared by every figure (cached)
    return xs, ys


def mask_trace(axis: str = "") -> dict:
    xs, ys = _mask_xy()
    return dict(type="scatter", x=xs, y=ys, mode="lines", fill="toself", fillcolor="white",
                line=dict(width=0, color="white"), hoverinfo="skip", showlegend=False,
                name="mask", xaxis=f"x{axis}", yaxis=f"y{axis}")


def outline_trace(axis: str = "") -> dict:
    xs, ys = _outline_xy()
    return dict(type="scatter", x=xs, y=ys, mode="lines", xaxis=f"x{axis}", yaxis=f"y{axis}",
                line=dict(color=OUTLINE_COLOR, width=2), hoverinfo="skip", showlegend=False,
                name="head")


HIGHLIGHT = "#d62728"  # the ring of a highlighted electrode (e.g. a planted effect's)


def topomap_traces(values, ch_names: Sequence[str], *, axis: str = "",
                   coloraxis: str = "coloraxis", mode: str = "interpolated",
                   contours: bool = False, res: int = 64, highlight: Sequence[str] = (),
                   value_label: str = "value", labels: bool = False,
                   interpolated: Sequence[str] = (),
                   highlight_color: str = HIGHLIGHT) -> list[dict]:
    """The traces of one topomap (map, contours, outline, sensors) on axes x{axis}/y{axis};
    with ``labels`` each sensor's name is written beside its dot (e.g. for a projector).
    Electrodes in ``highlight`` are ringed in ``highlight_color``.
    Electrodes ``interpolated`` (not measured) are drawn as rings, or crossed in markers mode,
    and say so on hover."""
    values = np.asarray(values, dtype=float)
    if values.shape != (len(ch_names),):
        raise ValueError(f"expected one value per electrode ({len(ch_names)}); got shape "
                         f"{values.shape}")
    if mode not in MODES:
        raise ValueError(f"mode must be 'interpolated' or 'markers'; got {mode!r}")
    axes = dict(xaxis=f"x{axis}", yaxis=f"y{axis}")
    pos = positions_2d(list(ch_names))
    traces = []
    if mode == "interpolated":
        xs, ys, z = interpolate(values, ch_names, res)
        # float32 halves what the browser is sent; "fast" lets the browser scale the grid's
        # image smoothly, where "best" interpolates every pixel in JavaScript (twice as slow)
        traces.append(dict(type="heatmap", x=xs, y=ys, z=z.astype(np.float32),
                           coloraxis=coloraxis, zsmooth="fast", hoverinfo="skip", name="map",
                           **axes))
        if contours:
            traces.append(dict(type="contour", x=xs, y=ys, z=z, ncontours=8,
                               contours=dict(coloring="none"), showscale=False,
                               showlegend=False, line=dict(color="rgba(0,0,0,0.45)", width=1),
                               hoverinfo="skip", name="contours", **axes))
        traces.append(mask_trace(axis))
    traces.append(outline_trace(axis))
    big = mode == "markers"
    marked = set(highlight)
    marker = dict(
        size=[16 if big else 8 if c in marked else 5 for c in ch_names],
        line=dict(width=[2.5 if c in marked else 0.5 for c in ch_names],
                  color=[highlight_color if c in marked else "#222" for c in ch_names]))
    marker.update(dict(color=values, coloraxis=coloraxis) if big else dict(color="#000"))
    made = set(interpolated)
    if made:
        marker["symbol"] = [(INTERPOLATED_SYMBOLS[big] if c in made else "circle")
                            for c in ch_names]
        marker["size"] = [s + 2 if c in made and not big else s
                          for c, s in zip(ch_names, marker["size"])]
    traces.append(dict(
        type="scatter", x=pos[:, 0], y=pos[:, 1], mode="markers+text" if labels else "markers",
        text=list(ch_names), customdata=values, marker=marker, showlegend=False, name="sensors",
        hovertext=[" (interpolated)" if c in made else "" for c in ch_names],
        **(dict(textposition=_label_positions(pos), textfont=dict(size=10, color="#111",
                                                                    shadow=HALO))
           if labels else {}),
        hovertemplate=f"<b>%{{text}}</b>%{{hovertext}}<br>{plain(value_label)}: "
                      "%{customdata:.4g}"
                      "<extra></extra>",
        **axes))
    return traces


def _label_positions(pos: np.ndarray) -> list[str]:
    """Names above their dots, except for electrodes beyond the head circle's top (Fp1,
    Fp2), whose names go outwards beside them: above them is the edge of the figure, below
    them the next row's names."""
    x0, y0, _, radius = head_sphere()
    return [("middle left" if x < x0 else "middle right") if y - y0 > radius else "top center"
            for x, y in pos]


def head_axes(n: int = 1, domains: Sequence[tuple[float, float]] | None = None) -> dict:
    """Layout entries for ``n`` head-shaped (equal-aspect, hidden) axis pairs."""
    xr, yr = _axis_ranges()
    out = {}
    for i in range(n):
        sx = "" if i == 0 else str(i + 1)
        out[f"xaxis{sx}"] = dict(range=list(xr), **_AXIS)
        out[f"yaxis{sx}"] = dict(range=list(yr), scaleanchor=f"x{sx}", scaleratio=1, **_AXIS)
        if domains is not None:
            out[f"xaxis{sx}"]["domain"] = list(domains[i])
            out[f"xaxis{sx}"]["anchor"] = f"y{sx}"
            out[f"yaxis{sx}"]["anchor"] = f"x{sx}"
    return out


def scalp_topomap(values, ch_names: Sequence[str], *, title: str | None = None,
                  mode: str = "interpolated", contours: bool = False,
                  zrange: tuple[float, float] | None = None, colorscale: str | None = None,
                  symmetric: bool | None = None, signed: bool | None = None,
                  colorbar_title: str | None = None, res: int = 64,
                  highlight: Sequence[str] = (), labels: bool = False,
                  height: int = 380, interpolated: Sequence[str] = ()) -> go.Figure:
    """One scalp map of one value per electrode.

    Parameters
    ----------
    values : array of shape (n_electrodes,)
    ch_names : electrode names (10-05 template names or MNE aliases), in the order of values.
    mode : "interpolated" (a head map clipped to the head circle, sensors as dots) or
        "markers" (coloured sensors only, no interpolation).
    contours : draw iso-lines over the interpolated map.
    signed : whether the values have a sign (None: they do when any is below 0). Signed values
        are drawn on a diverging scale symmetric about 0, unsigned ones (attention received,
        saliency) on a sequential scale from their minimum to their maximum.
    zrange, symmetric, colorscale : override the range, its symmetry or the scale name.
    highlight : electrodes to ring in red (e.g. where an effect is planted).
    labels : write each electrode's name beside its dot (else names show on hover only).
    interpolated : electrodes made by interpolation, not measured: ringed, and named in a key.
    """
    rng, scale = color_range(values, signed=signed, symmetric=symmetric, scale=colorscale)
    data = topomap_traces(values, ch_names, mode=mode, contours=contours, res=res,
                          highlight=highlight, value_label=colorbar_title or "value",
                          labels=labels, interpolated=interpolated)
    layout = dict(title=dict(text=title), height=height, margin=margin(title),
                  annotations=[interpolated_note(interpolated)] if interpolated else [],
                  coloraxis=coloraxis(zrange or rng, scale, colorbar_title),
                  plot_bgcolor="white", hovermode="closest", **head_axes(1))
    return figure(data, layout)


def _groups(names: list[str], shared_scale: bool, scale_groups) -> list[list[int]]:
    """Indices of the maps sharing each colour axis, in order of first appearance."""
    if scale_groups is None:
        scale_groups = [0] * len(names) if shared_scale else list(range(len(names)))
    if len(scale_groups) != len(names):
        raise ValueError(f"scale_groups needs one entry per map ({len(names)}); got "
                         f"{len(scale_groups)}")
    order: dict = {}
    for i, g in enumerate(scale_groups):
        order.setdefault(g, []).append(i)
    return list(order.values())


def _group_signed(signed, members: list[int], values: np.ndarray) -> bool:
    if signed is None or isinstance(signed, bool):
        return infer_signed(values, signed)
    given = [signed[i] for i in members]
    if any(s is True for s in given):
        return True
    return infer_signed(values, False if all(s is False for s in given) else None)


def topomap_row(maps: Mapping[str, np.ndarray], ch_names: Sequence[str], *,
                title: str | None = None, shared_scale: bool = True,
                scale_groups: Sequence[Hashable] | None = None,
                signed: bool | Sequence[bool | None] | None = None,
                mode: str = "interpolated", contours: bool = False,
                colorscale: str | Sequence[str] | None = None, symmetric: bool | None = None,
                zrange: tuple[float, float] | None = None, colorbar_title: str | None = None,
                res: int = 48, highlight: Mapping[str, Sequence[str]] | None = None,
                labels: bool = False, height: int = 300,
                interpolated: Sequence[str] = (),
                highlight_color: str = HIGHLIGHT) -> go.Figure:
    """Several topomaps side by side, with one shared colour scale or several.

    ``maps`` is an ordered mapping of subplot title to values (one per electrode). With
    ``shared_scale=False`` each map gets its own colour range and a titled colour bar beneath
    it. ``scale_groups`` (one key per map) instead makes maps with the same key share one range
    and one colour bar, e.g. ``["group", "group", "difference"]`` for two group means and their
    difference. ``signed`` (one value, or one per map; None infers it from each colour axis's
    values) picks a diverging scale about 0 or a sequential one (:func:`scalp_topomap`);
    ``colorscale`` (one name, or one per map: the first map of a group names its scale),
    ``symmetric`` and ``zrange`` override that choice. ``highlight`` maps a subplot title to
    electrodes to ring (in ``highlight_color``, red by default); ``labels`` writes the
    electrodes' names beside their dots; ``interpolated`` electrodes (not measured) are ringed
    and named in a key.
    """
    names = list(maps)
    n = len(names)
    if n == 0:
        raise ValueError("topomap_row needs at least one map")
    values = [np.asarray(maps[k], dtype=float) for k in names]
    groups = _groups(names, shared_scale, scale_groups)
    domains = column_domains(n)
    data, layout, axis_of = [], {}, {}
    for g, members in enumerate(groups):
        cax = "coloraxis" if g == 0 else f"coloraxis{g + 1}"
        together = np.concatenate([np.ravel(values[i]) for i in members])
        scale = (colorscale if colorscale is None or isinstance(colorscale, str)
                 else colorscale[members[0]])
        rng, scale = color_range(together, signed=_group_signed(signed, members, together),
                                 symmetric=symmetric, scale=scale)
        if len(groups) == 1:
            layout[cax] = coloraxis(zrange or rng, scale, colorbar_title)
        else:  # beneath the maps it serves
            x0, x1 = domains[members[0]][0], domains[members[-1]][1]
            layout[cax] = coloraxis(zrange or rng, scale, colorbar_title, horizontal=True,
                                    x=(x0 + x1) / 2, len=0.8 * (x1 - x0), y=-0.02,
                                    yanchor="top")
        axis_of.update(dict.fromkeys(members, cax))
    for i, name in enumerate(names):
        data += topomap_traces(values[i], ch_names, axis="" if i == 0 else str(i + 1),
                               coloraxis=axis_of[i], mode=mode, contours=contours, res=res,
                               value_label=colorbar_title or "value",
                               highlight=(highlight or {}).get(name, ()), labels=labels,
                               interpolated=interpolated, highlight_color=highlight_color)
    annotations = [dict(text=f"<b>{plain(name)}</b>", x=sum(domains[i]) / 2, y=1.0, xref="paper",
                        yref="paper", xanchor="center", yanchor="bottom", showarrow=False)
                   for i, name in enumerate(names)]
    annotations += [interpolated_note(interpolated)] if interpolated else []
    layout.update(title=dict(text=title), height=height, plot_bgcolor="white",
                  hovermode="closest", annotations=annotations,
                  margin=dict(l=10, r=10, t=60 if title else 30,
                              b=10 if len(groups) == 1 else 70),
                  **head_axes(n, domains))
    return figure(data, layout)


def band_topomaps(bde, ch_names: Sequence[str], band_names: Sequence[str], *,
                  title: str | None = None, shared_scale: bool = True, **options) -> go.Figure:
    """One topomap per band from an (electrodes, bands) array (a BDE window, a mean, ...).

    Options are those of :func:`topomap_row`; ``highlight`` may map band names to electrodes.
    """
    bde = np.asarray(bde)
    if bde.shape != (len(ch_names), len(band_names)):
        raise ValueError(f"expected shape ({len(ch_names)} electrodes, {len(band_names)} bands); "
                         f"got {bde.shape}")
    maps = {b: bde[:, i] for i, b in enumerate(band_names)}
    return topomap_row(maps, ch_names, title=title, shared_scale=shared_scale, **options)
