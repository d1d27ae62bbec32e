"""RBTransformer against a reference-style implementation, and its attention output."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from bench.reference_rbtransformer import ReferenceRBTransformer
from rbt.checkpoint import load_checkpoint
from rbt.model import RBTransformer, RBTransformerConfig

CONFIG = dict(num_electrodes=14, bde_dim=4, embed_dim=32, depth=3, heads=4, head_dim=8,
              mlp_hidden_dim=24, dropout=0.1, num_classes=3)


def official_folder(tmp_path, seed=0):
    """A checkpoint folder as huggingface_hub's PyTorchModelHubMixin writes it."""
    torch.manual_seed(seed)
    ref = ReferenceRBTransformer(**CONFIG).eval()
    folder = tmp_path / "official"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()},
              str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder, ref


def test_official_checkpoint_gives_the_reference_logits_and_attention(tmp_path):
    folder, ref = official_folder(tmp_path)
    model = load_checkpoint(folder).model
    assert not model.training
    x = torch.randn(9, 14, 4)
    with torch.inference_mode():
        expected = ref(x)
        logits, att = model(x, return_attention=True)
        plain = model(x)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(plain, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(att, ref.attention_maps(), atol=1e-6, rtol=0)


def test_attention_shape_and_rows_sum_to_one():
    model = RBTransformer(RBTransformerConfig(**CONFIG)).eval()
    x = torch.randn(5, 14, 4)
    logits, att = model(x, return_attention=True)
    assert logits.shape == (5, 3)
    assert att.shape == (5, 3, 4, 14, 14)  # batch, depth, heads, electrodes, electrodes
    torch.testing.assert_close(att.sum(-1), torch.ones(5, 3, 4, 14))
    assert (att >= 0).all()


def test_fused_sdpa_path_equals_explicit_path():
    model = RBTransformer(RBTransformerConfig(**CONFIG)).eval()
    x = torch.randn(64, 14, 4)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), model(x, return_attention=True)[0], atol=1e-6,
                                   rtol=0)


def test_training_mode_uses_dropout_and_eval_does_not():
    model = RBTransformer(RBTransformerConfig(**CONFIG))
    x = torch.randn(8, 14, 4)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_gradients_flow_to_every_parameter():
    model = RBTransformer(RBTransformerConfig(**CONFIG))
    model(torch.randn(4, 14, 4)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_wrong_input_shape_is_explained():
    model = RBTransformer(RBTransformerConfig(**CONFIG))
    with pytest.raises(ValueError, match="14 electrodes"):
        model(torch.randn(2, 32, 4))


def test_paper_defaults():
    cfg = RBTransformerConfig()
    assert (cfg.embed_dim, cfg.depth, cfg.heads, cfg.head_dim, cfg.mlp_hidden_dim, cfg.dropout) \
        == (128, 4, 6, 32, 128, 0.1)
    n = sum(p.numel() for p in RBTransformer(cfg).parameters())
    assert n * 4 < 5e6  # float32 weights fit the demo asset budget
    assert np.isfinite(n)
