"""A straightforward RBTransformer in the style of the published code: einops rearranges and an
explicit softmax, with the official parameter names. The baseline for bench/inference.py and the
oracle that tests compare rbt.model against. Written from the architecture in DESIGN.md."""

import torch
from einops import rearrange
from torch import nn


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x))


class Attention(nn.Module):
    def __init__(self, dim, heads, head_dim, dropout):
        super().__init__()
        self.heads, self.scale = heads, head_dim**-0.5
        self.to_qkv = nn.Linear(dim, heads * head_dim * 3, bias=False)
        self.attend = nn.Softmax(dim=-1)
        self.to_out = nn.Sequential(nn.Linear(heads * head_dim, dim), nn.Dropout(dropout))
        self.last_attention = None

    def forward(self, x):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (q, k, v))
        attn = self.attend(torch.matmul(q, k.transpose(-1, -2)) * self.scale)
        self.last_attention = attn
        out = rearrange(torch.matmul(attn, v), "b h n d -> b n (h d)")
        return self.to_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim), nn.Dropout(dropout))

    def forward(self, x):
        return self.net(x)


class Block(nn.Module):
    def __init__(self, dim, heads, head_dim, hidden, dropout):
        super().__init__()
        self.attention = PreNorm(dim, Attention(dim, heads, head_dim, dropout))
        self.feed_forward = PreNorm(dim, FeedForward(dim, hidden, dropout))

    def forward(self, x):
        x = self.attention(x) + x
        return self.feed_forward(x) + x


class Projection(nn.Module):
    def __init__(self, bde_dim, dim):
        super().__init__()
        self.linear = nn.Linear(bde_dim, dim)

    def forward(self, x):
        return self.linear(x)


class Identity(nn.Module):
    def __init__(self, n, dim):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(1, n, dim))

    def forward(self, x):
        return x + self.embedding


class Head(nn.Module):
    def __init__(self, dim, classes, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * dim, 2 * dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(2 * dim, dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(dim, classes))

    def forward(self, x):
        return self.mlp(self.norm(x.mean(dim=1)))


class ReferenceRBTransformer(nn.Module):
    def __init__(self, num_electrodes, bde_dim=4, embed_dim=128, depth=4, heads=6, head_dim=32,
                 mlp_hidden_dim=128, dropout=0.1, num_classes=2):
        super().__init__()
        self.bde_proj_layer = Projection(bde_dim, embed_dim)
        self.electrode_id_embedding = Identity(num_electrodes, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.intercortical_attention_blocks = nn.ModuleList(
            Block(embed_dim, heads, head_dim, mlp_hidden_dim, dropout) for _ in range(depth))
        self.classification_head = Head(embed_dim, num_classes, dropout)

    def forward(self, x):
        x = self.dropout(self.electrode_id_embedding(self.bde_proj_layer(x)))
        for block in self.intercortical_attention_blocks:
            x = block(x)
        return self.classification_head(x)

    def attention_maps(self):
        """(batch, depth, heads, E, E) from the last forward pass."""
        return torch.stack([b.attention.fn.last_attention
                            for b in self.intercortical_attention_blocks], dim=1)
