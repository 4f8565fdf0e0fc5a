"""Thread-count-invariant replacements for the entry_v10 operations whose CPU kernels are not.

Owns: every kernel substitution that makes an entry_v10 training step give the same bytes at any
torch thread count (1, 2, 4, ...), so that portable mode (``gx1.cpu``: AVX2 code path everywhere,
MKL strict CNR) gives one set of weights whatever ``num_threads`` is. ``model.py`` uses these
instead of the stock modules; the state_dict keys, shapes and the math are unchanged (only the
floating-point summation order of the replaced reductions differs from the stock kernels).

Why (measured with ``scripts/probe_threads.py`` on torch 2.13 CPU, which runs one training step per
thread count and flags every aten op whose inputs were byte-identical but whose outputs were not):

* ``native_layer_norm_backward`` is the only thread-dependent op of the training step. Its weight
  and bias gradients are sums over the rows that the CPU kernel splits into one partial buffer per
  thread and then adds up, so the summation order follows the thread count (even for 64 rows).
  Its input gradient is computed row by row and is thread-invariant. ``LayerNorm`` below keeps the
  stock kernel for the forward pass (same output bytes) and for the input gradient, and computes the
  weight and bias gradients as ``Tensor.sum`` over the leading (row) dimensions: ATen splits such a
  reduction across threads only along a kept (feature) dimension, in 128-byte column blocks when
  the features are contiguous, so each feature is summed by one thread, in the same order, at any
  thread count (the bias gradients of every ``nn.Linear`` are the same kind of reduction).

* Everything else in the step was thread-invariant in the probe (same input bytes, same output
  bytes at 1, 2 and 4 threads), for reasons that hold by construction, so nothing here replaces it:
  gemms (``addmm``/``mm`` of every linear layer, forward and backward: MKL strict CNR,
  ``MKL_CBWR=...,STRICT``, documents ?gemm as bitwise reproducible when the thread count changes;
  540 shapes checked by ``probe_threads.py --gemm_sweep``); bias-gradient and broadcast-gradient
  sums (column sums, as above); layer norm forward (one row per thread); CPU flash attention forward
  and backward (one batch*head per thread); GELU/ReLU and their backward (elementwise); embedding
  backward (sequential over the indices); loss means over a batch (fewer than 32768 elements:
  ATen reduces serially); ``torch.nn.utils.clip_grad_norm_`` (its per-tensor 2-norms take ATen's
  last-dimension norm path: one thread per output, so a whole-tensor norm is one sequential loop;
  the clip itself is a multiply); ``torch.optim.AdamW(fused=True)`` (elementwise, split across
  threads on 16-float boundaries). The trainer's clipping and optimizer calls therefore need no change.

Not covered (not used by the model, listed so that a future change knows to re-run the probe):
whole-tensor reductions to one value (``Tensor.sum()``/``mean()``) of 32768 or more elements are
thread-dependent (ATen's two-pass reduction keeps one partial result per thread), e.g. a loss mean
over a batch that large.

``use_stock_kernels()`` switches the substitutions off (the stock kernels, as before) for the probe,
the thread-invariance test and speed comparisons only.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

_stock = False


@contextlib.contextmanager
def use_stock_kernels() -> Iterator[None]:
    """Within the block, the modules here run the stock (thread-dependent) kernels. Probes and tests only."""
    global _stock
    previous, _stock = _stock, True
    try:
        yield
    finally:
        _stock = previous


_layer_norm_backward = torch.ops.aten.native_layer_norm_backward.default


class _LayerNormFunction(torch.autograd.Function):
    """aten layer norm; backward: the stock kernel for the input gradient only, column sums for weight/bias."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, normalized_shape: list[int], weight: torch.Tensor | None,
                bias: torch.Tensor | None, eps: float) -> torch.Tensor:
        y, mean, rstd = torch.native_layer_norm(x, normalized_shape, weight, bias, eps)  # the stock forward bytes
        ctx.normalized_shape = normalized_shape
        ctx.save_for_backward(x, mean, rstd, weight, bias)
        return y

    @staticmethod
    def backward(ctx, dy: torch.Tensor):
        x, mean, rstd, weight, bias = ctx.saved_tensors
        shape = ctx.normalized_shape
        dx = dweight = dbias = None
        if ctx.needs_input_grad[0]:  # computed row by row in the kernel: thread-invariant
            dx = _layer_norm_backward(dy, x, shape, mean, rstd, weight, bias, [True, False, False])[0]
        rows = tuple(range(x.dim() - len(shape)))  # the leading (reduced) dimensions
        if weight is not None and ctx.needs_input_grad[2]:
            dweight = torch.sub(x, mean).mul_(rstd).mul_(dy).sum(rows)  # sum over rows of dy * x_hat
        if bias is not None and ctx.needs_input_grad[3]:
            dbias = dy.sum(rows)
        return dx, None, dweight, dbias, None


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (same parameters, state_dict and forward values) with a thread-invariant backward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _stock:
            return super().forward(x)
        return _LayerNormFunction.apply(x, list(self.normalized_shape), self.weight, self.bias, self.eps)
