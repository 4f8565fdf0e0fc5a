"""The model against independent references: the last-position shortcut equals the full block, a block
equals PyTorch's own nn.TransformerEncoderLayer(norm_first=True) loaded with the same weights, and the fused
ReLU MLP (fused_ops.relu_mlp) equals stock autograd's linear -> relu -> linear byte for byte (and finite
differences)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gx1.models.entry_v10 import fused_ops
from gx1.models.entry_v10 import model as model_module
from gx1.models.entry_v10.fused_ops import relu_mlp
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


# ----------------------------------------------------------------------------- fused_ops.relu_mlp


@pytest.mark.parametrize("length", [30, 1])  # a full block, and the last block's last-position shortcut
def test_relu_mlp_is_byte_identical_to_stock_linear_relu_linear(length):
    torch.manual_seed(2)
    ff_in, ff_out = nn.Linear(128, 512), nn.Linear(512, 128)  # the plan's widths: the gemm kernels training runs
    for p in (*ff_in.parameters(), *ff_out.parameters()):
        nn.init.normal_(p, std=0.1)
    x = torch.randn(16, length, 128)
    upstream = torch.randn(16, length, 128)

    def output_and_grads(fn):
        leaf = x.clone().requires_grad_(True)
        for p in (*ff_in.parameters(), *ff_out.parameters()):
            p.grad = None
        y = fn(leaf)
        y.backward(upstream)
        return [y.detach(), leaf.grad] + [p.grad for p in (*ff_in.parameters(), *ff_out.parameters())]

    fused = output_and_grads(lambda t: relu_mlp(t, ff_in, ff_out))
    stock = output_and_grads(lambda t: ff_out(F.relu(ff_in(t))))
    names = ["output", "input grad", "ff_in.weight grad", "ff_in.bias grad", "ff_out.weight grad", "ff_out.bias grad"]
    assert (ff_in(x) < 0).any()  # the relu clips something
    for name, a, b in zip(names, fused, stock):
        assert a.shape == b.shape and torch.equal(a, b), name


def test_relu_mlp_gradients_match_finite_differences():
    torch.manual_seed(3)
    args = [torch.randn(3, 4, 6, dtype=torch.float64), torch.randn(10, 6, dtype=torch.float64), torch.randn(10, dtype=torch.float64),
            torch.randn(5, 10, dtype=torch.float64), torch.randn(5, dtype=torch.float64)]
    args = [a.requires_grad_(True) for a in args]
    assert torch.autograd.gradcheck(fused_ops._ReluMLPFunction.apply, args)


def test_model_training_takes_the_fused_path_and_gives_the_stock_bytes(monkeypatch):
    cfg = EntryV10Config(n_seq_features=7, n_snap_features=5, seq_len=12, ctx_cat_cardinalities=[3, 4], n_ctx_cont=2,
                         d_model=32, n_layers=2, n_heads=4)
    calls = []
    original = fused_ops.relu_mlp
    monkeypatch.setattr(model_module, "relu_mlp", lambda *a: calls.append(1) or original(*a))

    def train() -> list[torch.Tensor]:
        torch.manual_seed(4)
        model = EntryV10Model(cfg)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)
        generator = torch.Generator().manual_seed(5)
        for _ in range(3):
            seq, snap = torch.randn(8, 12, 7, generator=generator), torch.randn(8, 5, generator=generator)
            ctx_cat = torch.stack([torch.randint(0, 3, (8,), generator=generator), torch.randint(0, 4, (8,), generator=generator)], 1)
            labels = torch.randint(0, 2, (8, 3), generator=generator).float()
            losses = model.losses(model(seq, snap, ctx_cat, torch.randn(8, 2, generator=generator)), *labels.T)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            optimizer.step()
        return list(model.state_dict().values())

    fused = train()
    assert len(calls) == 3 * cfg.n_layers  # every block of every step went through relu_mlp
    with fused_ops.unfused():
        stock = train()
    assert len(calls) == 3 * cfg.n_layers  # and none under unfused()
    assert all(torch.equal(a, b) for a, b in zip(fused, stock))
