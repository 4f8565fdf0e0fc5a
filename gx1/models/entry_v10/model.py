"""The entry_v10 model: sequence transformer + snapshot MLP, fused with context, three heads.

Rebuild a model only from a stored config: ``EntryV10Model(EntryV10Config(**train_config["model"]))``.

    seq (B, L, n_seq) -> linear + position -> n_layers pre-norm transformer blocks -> last position (d_model)
    snap (B, n_snap)  -> 2-layer MLP (snap_hidden)
    ctx cat (B, 5) -> embeddings, ctx cont (B, 2) -> normalised + linear  -> ctx vector
    fusion: ctx scales/shifts both the sequence and snapshot vectors (FiLM), then MLP over
            [seq, snap, ctx] -> heads: direction logit, early-move logit, quality (regression)

The last transformer block only computes the query, attention output and MLP for the last
position: the other positions' outputs are never used (keys/values still cover all positions).
With ReLU, a block's MLP is ``fused_ops.relu_mlp``: the same bytes, computed with in-place activation passes.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gx1.models.entry_v10.fused_ops import fused_enabled, relu_mlp
# nn.LayerNorm with a backward whose bytes do not depend on the thread count (invariant_ops' docstring)
from gx1.models.entry_v10.invariant_ops import LayerNorm


@dataclass
class EntryV10Config:
    """Model hyperparameters; saved with the weights (train_config.json, bundle_metadata.json)."""

    n_seq_features: int                 # per-bar features in each sequence step
    n_snap_features: int                # snapshot features at the decision bar
    seq_len: int = 30                   # bars in the sequence window
    use_context: bool = True            # v10_ctx (True) or the variant without context (False)
    ctx_cat_cardinalities: list[int] = field(default_factory=list)  # one entry per categorical context feature
    n_ctx_cont: int = 0                 # continuous context features
    d_model: int = 128                  # transformer width
    n_layers: int = 3                   # transformer blocks
    n_heads: int = 4                    # attention heads
    ff_mult: int = 4                    # transformer MLP width = ff_mult * d_model
    ff_activation: str = "relu"         # transformer MLP activation: "relu" (cheapest on CPU) or "gelu"
    snap_hidden: int = 128              # snapshot MLP width
    ctx_embed_dim: int = 16             # width of each context embedding
    ctx_hidden: int = 64                # context vector width
    fusion_hidden: int = 192            # fusion MLP width
    dropout: float = 0.0                # dropout inside blocks and fusion (0 keeps training RNG-free)
    loss_weight_dir: float = 1.0        # weight of the direction BCE loss
    loss_weight_early: float = 0.5      # weight of the early-move BCE loss
    loss_weight_quality: float = 0.5    # weight of the quality Huber loss
    huber_delta: float = 1.0            # Huber transition point for the quality head

    def to_dict(self) -> dict:
        return asdict(self)


ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerBlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, ff_mult: int, dropout: float, activation: str):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"ff_activation {activation!r} is not one of {sorted(ACTIVATIONS)}")
        self.activation = ACTIVATIONS[activation]
        self.n_heads = n_heads
        self.norm_attn = LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.norm_ff = LayerNorm(d_model)
        self.ff_in = nn.Linear(d_model, ff_mult * d_model)
        self.ff_out = nn.Linear(ff_mult * d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.n_heads, width // self.n_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        batch, length, width = x.shape
        h = self.norm_attn(x)
        if last_only:
            # keys/values from every position, query (and everything after) for the last one only
            kv_weight, kv_bias = self.qkv.weight[width:], self.qkv.bias[width:]
            k, v = F.linear(h, kv_weight, kv_bias).split(width, dim=-1)
            q = F.linear(h[:, -1:], self.qkv.weight[:width], self.qkv.bias[:width])
            x = x[:, -1:]
        else:
            q, k, v = self.qkv(h).split(width, dim=-1)
        attn = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v))
        attn = attn.transpose(1, 2).reshape(batch, q.shape[1], width)
        x = x + self.dropout(self.attn_out(attn))
        h = self.norm_ff(x)
        if self.activation is F.relu and fused_enabled():
            return x + self.dropout(relu_mlp(h, self.ff_in, self.ff_out))  # same bytes, fewer passes (fused_ops)
        return x + self.dropout(self.ff_out(self.activation(self.ff_in(h))))


class EntryV10Model(nn.Module):
    def __init__(self, cfg: EntryV10Config):
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError(f"d_model {cfg.d_model} must be divisible by n_heads {cfg.n_heads}")
        self.cfg = cfg
        self.seq_in = nn.Linear(cfg.n_seq_features, cfg.d_model)
        self.position = nn.Parameter(torch.zeros(cfg.seq_len, cfg.d_model))
        self.blocks = nn.ModuleList(TransformerBlock(cfg.d_model, cfg.n_heads, cfg.ff_mult, cfg.dropout, cfg.ff_activation)
                                    for _ in range(cfg.n_layers))
        self.seq_norm = LayerNorm(cfg.d_model)
        self.snap_mlp = nn.Sequential(
            nn.Linear(cfg.n_snap_features, cfg.snap_hidden), nn.GELU(),
            nn.Linear(cfg.snap_hidden, cfg.snap_hidden), nn.GELU(),
        )
        fused_width = cfg.d_model + cfg.snap_hidden
        if cfg.use_context:
            self.ctx_embeddings = nn.ModuleList(nn.Embedding(card, cfg.ctx_embed_dim) for card in cfg.ctx_cat_cardinalities)
            # continuous context is standardised with statistics of the training rows (set by the trainer, saved as buffers)
            self.register_buffer("ctx_cont_mean", torch.zeros(cfg.n_ctx_cont))
            self.register_buffer("ctx_cont_std", torch.ones(cfg.n_ctx_cont))
            self.ctx_cont_in = nn.Linear(cfg.n_ctx_cont, cfg.ctx_embed_dim)
            ctx_in = cfg.ctx_embed_dim * (len(cfg.ctx_cat_cardinalities) + 1)
            self.ctx_mlp = nn.Sequential(nn.Linear(ctx_in, cfg.ctx_hidden), nn.GELU())
            self.ctx_film = nn.Linear(cfg.ctx_hidden, 2 * fused_width)  # scale and shift for [seq, snap]
            fused_width += cfg.ctx_hidden
        self.fusion = nn.Sequential(
            nn.Linear(fused_width, cfg.fusion_hidden), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.fusion_hidden, cfg.fusion_hidden), nn.GELU(),
        )
        self.heads = nn.Linear(cfg.fusion_hidden, 3)  # direction logit, early-move logit, quality
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        nn.init.normal_(self.position, std=0.02)
        for block in self.blocks:  # scaled residual projections (GPT-2 style)
            nn.init.normal_(block.attn_out.weight, std=0.02 / math.sqrt(2 * len(self.blocks)))
            nn.init.normal_(block.ff_out.weight, std=0.02 / math.sqrt(2 * len(self.blocks)))
        if self.cfg.use_context:
            nn.init.zeros_(self.ctx_film.weight)  # FiLM starts as the identity

    def forward(self, seq: torch.Tensor, snap: torch.Tensor, ctx_cat: torch.Tensor | None = None,
                ctx_cont: torch.Tensor | None = None) -> torch.Tensor:
        """Return (B, 3): direction logit, early-move logit, quality prediction."""
        x = self.seq_in(seq) + self.position
        for i, block in enumerate(self.blocks):
            x = block(x, last_only=i == len(self.blocks) - 1)
        seq_vec = self.seq_norm(x[:, -1])
        snap_vec = self.snap_mlp(snap)
        fused = torch.cat([seq_vec, snap_vec], dim=1)
        if self.cfg.use_context:
            if ctx_cat is None or ctx_cont is None:
                raise ValueError("this model uses context features: pass ctx_cat and ctx_cont")
            embedded = [emb(ctx_cat[:, i]) for i, emb in enumerate(self.ctx_embeddings)]
            cont = (ctx_cont - self.ctx_cont_mean) / self.ctx_cont_std
            ctx_vec = self.ctx_mlp(torch.cat(embedded + [self.ctx_cont_in(cont)], dim=1))
            scale, shift = self.ctx_film(ctx_vec).chunk(2, dim=1)
            fused = torch.cat([fused * (1.0 + scale) + shift, ctx_vec], dim=1)
        return self.heads(self.fusion(fused))

    def losses(self, outputs: torch.Tensor, y_dir: torch.Tensor, y_early: torch.Tensor,
               y_quality: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-head losses and their weighted total."""
        cfg = self.cfg
        loss_dir = F.binary_cross_entropy_with_logits(outputs[:, 0], y_dir)
        loss_early = F.binary_cross_entropy_with_logits(outputs[:, 1], y_early)
        loss_quality = F.huber_loss(outputs[:, 2], y_quality, delta=cfg.huber_delta)
        total = cfg.loss_weight_dir * loss_dir + cfg.loss_weight_early * loss_early + cfg.loss_weight_quality * loss_quality
        return {"total": total, "direction": loss_dir, "early_move": loss_early, "quality": loss_quality}


def forward_flops_per_sample(cfg: EntryV10Config) -> int:
    """Multiply-accumulate FLOPs (2 per MAC) of one forward pass for one sample (matmuls and attention)."""
    d, length, ff = cfg.d_model, cfg.seq_len, cfg.ff_mult * cfg.d_model
    macs = length * cfg.n_seq_features * d
    full_block = length * (3 * d * d + d * d + 2 * d * ff) + 2 * length * length * d
    last_block = length * 2 * d * d + d * d + d * d + 2 * d * ff + 2 * length * d
    macs += (cfg.n_layers - 1) * full_block + last_block
    macs += cfg.n_snap_features * cfg.snap_hidden + cfg.snap_hidden ** 2
    fused = d + cfg.snap_hidden
    if cfg.use_context:
        ctx_in = cfg.ctx_embed_dim * (len(cfg.ctx_cat_cardinalities) + 1)
        macs += cfg.n_ctx_cont * cfg.ctx_embed_dim + ctx_in * cfg.ctx_hidden + cfg.ctx_hidden * 2 * fused
        fused += cfg.ctx_hidden
    macs += fused * cfg.fusion_hidden + cfg.fusion_hidden ** 2 + cfg.fusion_hidden * 3
    return 2 * macs
