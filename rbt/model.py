"""RBTransformer, as published: BDE tokens per electrode, inter-cortical attention, MLP head.

Parameter names follow the official checkpoints (see ``rbt.checkpoint``), so a published
``model.safetensors`` loads with ``load_state_dict(strict=True)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

# Upper bounds on each size; generous for EEG (high-density caps have 256 electrodes) and far
# above the paper's model, yet small enough that nothing absurd is ever allocated.
LIMITS = {"num_electrodes": 1024, "bde_dim": 64, "embed_dim": 8192, "depth": 128, "heads": 64,
          "head_dim": 4096, "mlp_hidden_dim": 65536, "num_classes": 1024}
MAX_PARAMETERS = 10**8  # the paper's model has 664,834
MAX_ATTENTION = 1 << 22  # attention weights per window: 16 MB of float32


class ConfigError(ValueError):
    """An RBTransformer configuration with a missing, mistyped or out-of-bounds value."""


@dataclass
class RBTransformerConfig:
    """Hyper-parameters; the defaults are the paper's. Keys match the official config.json.

    Every size is a positive integer up to its bound in :data:`LIMITS`, dropout is in [0, 1),
    and the model has at most :data:`MAX_PARAMETERS` parameters; anything else is a
    :class:`ConfigError` before any tensor is allocated.
    """

    num_electrodes: int = 32
    bde_dim: int = 4
    embed_dim: int = 128
    depth: int = 4
    heads: int = 6
    head_dim: int = 32
    mlp_hidden_dim: int = 128
    dropout: float = 0.1
    num_classes: int = 2

    def __post_init__(self):
        for name, high in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer; got {value!r}")
            if value > high:
                raise ConfigError(f"{name} must be at most {high}; got {value}")
        d = self.dropout
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0 <= d < 1:
            raise ConfigError(f"dropout must be a number in [0, 1); got {d!r}")
        self.dropout = float(d)
        n = self.n_parameters()
        if n > MAX_PARAMETERS:
            raise ConfigError(f"this configuration has {n:,} parameters, more than the "
                              f"{MAX_PARAMETERS:,} rbt builds (the paper's model has "
                              "under a million)")
        maps = self.depth * self.heads * self.num_electrodes**2
        if maps > MAX_ATTENTION:
            raise ConfigError(
                f"depth x heads x electrodes^2 = {maps:,} attention weights per window, more "
                f"than the {MAX_ATTENTION:,} rbt computes (the paper's model on 62 electrodes "
                "has 92,256): a small file may not ask for gigabytes of attention")

    @classmethod
    def from_dict(cls, d: dict) -> RBTransformerConfig:
        """A validated config from a config.json object; unknown keys are ignored."""
        if not isinstance(d, dict):
            raise ConfigError(f"expected a JSON object of hyper-parameters; found "
                              f"{type(d).__name__}")
        names = {f.name for f in fields(cls)}
        missing = names - set(d) - {"bde_dim", "dropout"}
        if missing:
            raise ConfigError(f"config is missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every tensor in the model's state dict, computed from the sizes
        alone (no module is built), so weights can be checked before anything is allocated."""
        e, inner, hidden = self.embed_dim, self.heads * self.head_dim, self.mlp_hidden_dim
        shapes = {"bde_proj_layer.linear.weight": (e, self.bde_dim),
                  "bde_proj_layer.linear.bias": (e,),
                  "electrode_id_embedding.embedding": (1, self.num_electrodes, e)}
        for i in range(self.depth):
            block = f"intercortical_attention_blocks.{i}"
            shapes.update({
                f"{block}.attention.norm.weight": (e,), f"{block}.attention.norm.bias": (e,),
                f"{block}.attention.fn.to_qkv.weight": (3 * inner, e),
                f"{block}.attention.fn.to_out.0.weight": (e, inner),
                f"{block}.attention.fn.to_out.0.bias": (e,),
                f"{block}.feed_forward.norm.weight": (e,),
                f"{block}.feed_forward.norm.bias": (e,),
                f"{block}.feed_forward.fn.net.0.weight": (hidden, e),
                f"{block}.feed_forward.fn.net.0.bias": (hidden,),
                f"{block}.feed_forward.fn.net.3.weight": (e, hidden),
                f"{block}.feed_forward.fn.net.3.bias": (e,),
            })
        shapes.update({"classification_head.norm.weight": (e,),
                       "classification_head.norm.bias": (e,)})
        for i, (n_out, n_in) in zip((0, 3, 6, 9), ((2 * e, e), (2 * e, 2 * e), (e, 2 * e),
                                                   (self.num_classes, e))):
            shapes[f"classification_head.mlp.{i}.weight"] = (n_out, n_in)
            shapes[f"classification_head.mlp.{i}.bias"] = (n_out,)
        return shapes

    def n_parameters(self) -> int:
        """The model's parameter count, from :meth:`parameter_shapes` (no allocation)."""
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())


class BDEProjection(nn.Module):
    def __init__(self, bde_dim: int, embed_dim: int):
        super().__init__()
        self.linear = nn.Linear(bde_dim, embed_dim)

    def forward(self, x):
        return self.linear(x)


class ElectrodeEmbedding(nn.Module):
    """A learned identity vector per electrode, added to its token."""

    def __init__(self, num_electrodes: int, embed_dim: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(1, num_electrodes, embed_dim))

    def forward(self, x):
        return x + self.embedding


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x, **kwargs):
        return self.fn(self.norm(x), **kwargs)


class Attention(nn.Module):
    """Multi-head self-attention over electrodes; qkv has no bias."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = heads * head_dim
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Dropout(dropout))

    def forward(self, x, return_attention: bool = False):
        b, e, _ = x.shape
        # q, k, v along the output dimension in that order, heads contiguous inside each.
        # Strided (batch, heads, electrodes, head_dim) views, no copy: both SDPA and matmul
        # read them in place, and CPU SDPA's output transposes back to (b, e, h*d) for free.
        q, k, v = self.to_qkv(x).view(b, e, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if return_attention:
            attn = torch.softmax(q @ k.transpose(-2, -1) * self.head_dim**-0.5, dim=-1)
            out = attn @ v
        else:
            attn = None
            out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(b, e, self.heads * self.head_dim)
        return self.to_out(out), attn


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, dim), nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


class InterCorticalBlock(nn.Module):
    def __init__(self, cfg: RBTransformerConfig):
        super().__init__()
        self.attention = PreNorm(cfg.embed_dim, Attention(cfg.embed_dim, cfg.heads, cfg.head_dim,
                                                          cfg.dropout))
        self.feed_forward = PreNorm(cfg.embed_dim, FeedForward(cfg.embed_dim, cfg.mlp_hidden_dim,
                                                               cfg.dropout))

    def forward(self, x, return_attention: bool = False):
        out, attn = self.attention(x, return_attention=return_attention)
        x = x + out
        return x + self.feed_forward(x), attn


class ClassificationHead(nn.Module):
    """Mean over electrodes, LayerNorm, then embed -> 2 embed -> 2 embed -> embed -> classes."""

    def __init__(self, dim: int, num_classes: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * dim, dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(dim, num_classes),
        )

    def forward(self, x):
        return self.mlp(self.norm(x.mean(dim=1)))


class RBTransformer(nn.Module):
    """``model(x)`` gives logits for x of shape (batch, electrodes, bands).

    ``model(x, return_attention=True)`` gives ``(logits, attention)`` with attention of shape
    (batch, depth, heads, electrodes, electrodes): each block's softmax attention, rows summing
    to 1 (row i: where electrode i looks). Without it the fused SDPA kernel is used.
    """

    def __init__(self, config: RBTransformerConfig | None = None, **kwargs):
        super().__init__()
        self.config = cfg = config or RBTransformerConfig(**kwargs)
        self.bde_proj_layer = BDEProjection(cfg.bde_dim, cfg.embed_dim)
        self.electrode_id_embedding = ElectrodeEmbedding(cfg.num_electrodes, cfg.embed_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.intercortical_attention_blocks = nn.ModuleList(
            InterCorticalBlock(cfg) for _ in range(cfg.depth)
        )
        self.classification_head = ClassificationHead(cfg.embed_dim, cfg.num_classes, cfg.dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        e, d = self.config.num_electrodes, self.config.bde_dim
        if x.ndim != 3 or x.shape[1:] != (e, d):
            raise ValueError(f"expected input of shape (batch, {e} electrodes, {d} bands); "
                             f"got {tuple(x.shape)}")
        x = self.dropout(self.electrode_id_embedding(self.bde_proj_layer(x)))
        maps = []
        for block in self.intercortical_attention_blocks:
            x, attn = block(x, return_attention=return_attention)
            maps.append(attn)
        logits = self.classification_head(x)
        if return_attention:
            return logits, torch.stack(maps, dim=1)
        return logits
