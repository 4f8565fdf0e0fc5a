"""The model against independent references: the last-position shortcut equals the full block, and a block
equals PyTorch's own nn.TransformerEncoderLayer(norm_first=True) loaded with the same weights."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from gx1.models.entry_v10.model import EntryV10Config, EntryV10Model, TransformerBlock


def block_and_reference(activation: str) -> tuple[TransformerBlock, nn.TransformerEncoderLayer]:
    torch.manual_seed(0)
    d_model, heads, ff_mult = 32, 4, 4
    block = TransformerBlock(d_model, heads, ff_mult, 0.0, activation).eval()
    for p in block.parameters():  # non-trivial biases and norms
        nn.init.normal_(p, std=0.2)
    reference = nn.TransformerEncoderLayer(d_model, heads, ff_mult * d_model, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=True).eval()
    with torch.no_grad():
        reference.self_attn.in_proj_weight.copy_(block.qkv.weight)
        reference.self_attn.in_proj_bias.copy_(block.qkv.bias)
        reference.self_attn.out_proj.weight.copy_(block.attn_out.weight)
        reference.self_attn.out_proj.bias.copy_(block.attn_out.bias)
        for ours, theirs in ((block.norm_attn, reference.norm1), (block.norm_ff, reference.norm2),
                             (block.ff_in, reference.linear1), (block.ff_out, reference.linear2)):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
    return block, reference


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_equals_torch_transformer_encoder_layer(activation):
    block, reference = block_and_reference(activation)
    x = torch.randn(5, 30, 32)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x), rtol=1e-5, atol=1e-5)
        # the last-position shortcut is the full block's last row
        torch.testing.assert_close(block(x, last_only=True), reference(x)[:, -1:], rtol=1e-5, atol=1e-5)


def test_model_last_position_shortcut_equals_full_last_block():
    torch.manual_seed(1)
    cfg = EntryV10Config(n_seq_features=7, n_snap_features=5, seq_len=12, ctx_cat_cardinalities=[3, 4], n_ctx_cont=2,
                         d_model=32, n_layers=2, n_heads=4)
    model = EntryV10Model(cfg).eval()
    seq, snap = torch.randn(6, 12, 7), torch.randn(6, 5)
    ctx_cat, ctx_cont = torch.stack([torch.randint(0, 3, (6,)), torch.randint(0, 4, (6,))], 1), torch.randn(6, 2)
    with torch.no_grad():
        got = model(seq, snap, ctx_cat, ctx_cont)
        x = model.seq_in(seq) + model.position
        for block in model.blocks:
            x = block(x)  # every block in full
        fused = torch.cat([model.seq_norm(x[:, -1]), model.snap_mlp(snap)], 1)
        embedded = [emb(ctx_cat[:, i]) for i, emb in enumerate(model.ctx_embeddings)]
        ctx = model.ctx_mlp(torch.cat(embedded + [model.ctx_cont_in((ctx_cont - model.ctx_cont_mean) / model.ctx_cont_std)], 1))
        scale, shift = model.ctx_film(ctx).chunk(2, 1)
        expected = model.heads(model.fusion(torch.cat([fused * (1 + scale) + shift, ctx], 1)))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
