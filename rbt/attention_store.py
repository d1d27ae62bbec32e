"""Attention written to disk as it is computed, batch by batch, with memory bounded.

What is kept is the user's choice (:func:`parse_attention`): every block's attention in float16
(``full``; softmax weights in [0, 1] keep about 3 significant digits), chosen blocks only
(``0,3``), the rollout through all blocks in float32 (``rollout``), or both (``full,rollout``).
:meth:`AttentionChoice.bytes_per_window` says what that costs before anything is written.
:class:`AttentionWriter` takes each batch's ``(windows, depth, heads, E, E)`` attention and
appends it to ``.npy`` streams (:class:`NpyStream`), so only one batch is ever in memory; the
files open with ``np.load(path, mmap_mode="r")``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .explain.attention import attention_rollout

#: what ``--attention`` accepts, comma-separated
ATTENTION_WORDS = ("full", "rollout")
#: bare ``--attention``: every block and the rollout
DEFAULT_ATTENTION = "full,rollout"


@dataclass(frozen=True)
class AttentionChoice:
    """Which attention is kept: ``blocks`` (indices, float16; "all" for every block) and the
    ``rollout`` (float32)."""

    blocks: tuple[int, ...] | str = ()
    rollout: bool = False

    def block_list(self, depth: int) -> list[int]:
        """The kept blocks as indices in ``[0, depth)``; a ValueError names a block the model
        does not have."""
        if self.blocks == "all":
            return list(range(depth))
        out = []
        for b in self.blocks:
            if not -depth <= b < depth:
                raise ValueError(f"--attention: the model has {depth} blocks (0 to {depth - 1});"
                                 f" got block {b}")
            out.append(b % depth)
        return sorted(set(out))

    def bytes_per_window(self, depth: int, heads: int, electrodes: int) -> int:
        """Bytes one window's kept attention takes on disk."""
        e2 = electrodes * electrodes
        return len(self.block_list(depth)) * heads * e2 * 2 + (e2 * 4 if self.rollout else 0)

    def describe(self, depth: int) -> str:
        blocks = self.block_list(depth)
        parts = []
        if blocks:
            parts.append("every block's attention" if len(blocks) == depth else
                         f"the attention of block{'s' if len(blocks) > 1 else ''} "
                         + ", ".join(map(str, blocks)))
            parts[-1] += " (float16)"
        if self.rollout:
            parts.append("the rollout (float32)")
        return " and ".join(parts)


def parse_attention(text: str) -> AttentionChoice:
    """``full``, ``rollout``, block indices, or a comma-separated mix (``rollout,3``); anything
    else is a ValueError saying what is accepted."""
    blocks: list[int] | str = []
    rollout = False
    items = [t.strip().lower() for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError("--attention: say what to keep: full (every block, float16), rollout, "
                         "block indices such as 0,3, or a mix such as rollout,3")
    for item in items:
        if item == "full":
            blocks = "all"
        elif item == "rollout":
            rollout = True
        elif item.lstrip("-").isdigit():
            if blocks != "all":
                blocks.append(int(item))
        else:
            raise ValueError(f"--attention: {item!r} is neither full, rollout nor a block index;"
                             " examples: full, rollout, 0,3, rollout,3")
    return AttentionChoice(blocks if blocks == "all" else tuple(blocks), rollout)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _rollout_on_device(att):
    """:func:`~rbt.explain.attention_rollout` in torch, where the attention is (a GPU), so only
    the (E, E) rollout crosses to the host; float32, equal to the numpy one to rounding."""
    import torch

    a = att.float().mean(dim=2)
    a = a + torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    a = a / a.sum(dim=-1, keepdim=True)
    rollout = a[:, 0]
    for block in range(1, a.shape[1]):
        rollout = a[:, block] @ rollout
    return rollout


class NpyStream:
    """One ``.npy`` array written front to back into an open binary file: the header for the
    whole ``shape`` first, then rows in order (:meth:`write`) until ``shape[0]`` are in."""

    def __init__(self, fileobj, shape: tuple[int, ...], dtype):
        self.file, self.shape, self.dtype = fileobj, tuple(shape), np.dtype(dtype)
        self.rows = 0
        np.lib.format.write_array_header_2_0(fileobj, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": self.shape})

    def write(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or self.rows + len(rows) > self.shape[0]:
            raise ValueError(f"rows of shape {rows.shape} do not fit an array of shape "
                             f"{self.shape} holding {self.rows} rows")
        self.file.write(rows.data)
        self.rows += len(rows)

    def check_full(self) -> None:
        if self.rows != self.shape[0]:
            raise ValueError(f"wrote {self.rows} of {self.shape[0]} rows")


class AttentionWriter:
    """Streams each batch's attention to ``attention.npy``-style files: ``paths["attention"]``
    (windows, kept blocks, heads, E, E) float16 and ``paths["rollout"]`` (windows, E, E)
    float32, each written to a hidden file beside it and moved into place by :meth:`close`
    (nothing is left behind on an error: :meth:`abort`). ``files`` gives an open binary file
    for a key instead (a zip member, say), which the caller closes. Use as a context
    manager."""

    def __init__(self, choice: AttentionChoice, n: int, depth: int, heads: int,
                 electrodes: int, paths: dict[str, Path], files: dict | None = None):
        self.choice, self.n = choice, n
        self.blocks = choice.block_list(depth)
        self.all_blocks = len(self.blocks) == depth
        shapes = {}
        if self.blocks:
            shapes["attention"] = ((n, len(self.blocks), heads, electrodes, electrodes),
                                   np.float16)
        if choice.rollout:
            shapes["rollout"] = ((n, electrodes, electrodes), np.float32)
        files = files or {}
        self.paths = {k: Path(paths[k]) for k in shapes if k not in files}
        self._tmp, self._files, self.streams = {}, {}, {}
        try:
            for k, (shape, dtype) in shapes.items():
                if k in files:
                    self.streams[k] = NpyStream(files[k], shape, dtype)
                    continue
                path = self.paths[k]
                self._tmp[k] = tmp = path.with_name(f".{path.name}.part")
                self._files[k] = f = open(tmp, "wb")  # noqa: SIM115 - closed in close/abort
                self.streams[k] = NpyStream(f, shape, dtype)
        except BaseException:
            self.abort()
            raise

    def write(self, att) -> None:
        """One batch's ``(windows, depth, heads, E, E)`` attention (numpy or torch)."""
        if hasattr(att, "detach"):
            att = att.detach()
            if "attention" in self.streams:
                kept = att if self.all_blocks else att[:, self.blocks]
                self.streams["attention"].write(kept.half().cpu().numpy())
            if "rollout" in self.streams:
                roll = (attention_rollout(att.float().numpy()) if att.device.type == "cpu"
                        else _rollout_on_device(att).cpu().numpy())
                self.streams["rollout"].write(roll)
            return
        att = np.asarray(att)
        if "attention" in self.streams:
            self.streams["attention"].write(att if self.all_blocks else att[:, self.blocks])
        if "rollout" in self.streams:
            self.streams["rollout"].write(attention_rollout(att))

    def close(self) -> None:
        try:
            for s in self.streams.values():
                s.check_full()
            for k, f in self._files.items():
                f.close()
                os.replace(self._tmp[k], self.paths[k])
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for k, f in self._files.items():
            f.close()
            self._tmp[k].unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        else:
            self.abort()
