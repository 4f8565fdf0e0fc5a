"""The transformer MLP (linear -> ReLU -> linear) as one autograd function with in-place activation passes.

Owns: ``relu_mlp``, which ``model.TransformerBlock`` calls for ``ff_activation: relu`` (the default). It
computes the same operations as ``ff_out(relu(ff_in(x)))`` under stock autograd, on the same gemm
shapes and layouts, so forward values and every gradient are byte-identical to it (``tests/test_model.py``
compares them; a training run's weights do not change). What differs is memory traffic:

* forward: the ReLU runs in place on the ``ff_in`` output instead of writing a new (rows, 4*d_model)
  tensor (1,920 x 512 floats, 3.9 MB, at batch 64 x seq_len 30);
* backward: the ReLU gradient masks the ``ff_out`` input gradient in place
  (``threshold_backward`` into its own input) instead of writing another such tensor.

On this project's 2-core machine the ReLU forward and backward went from 8 % to 1.3 % of the
operator time of a training step (torch.profiler; docs/performance.md), and a step is 1.0-2.6 %
faster, 1.7 % in the median of ten runs (``scripts/bench.py`` runs both paths in one process, taking
turns step by step, and checks that their weights are byte-identical).

The gradients follow PyTorch's own ``addmm`` backward formulas for ``F.linear``: weight gradient
``grad.t() @ input``, input gradient ``grad @ weight``, bias gradient ``grad.sum(0)``. ``unfused()``
switches the model back to the stock modules, for tests and speed comparisons.

Not a command; used by ``gx1.models.entry_v10.model``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

_unfused = False


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Within the block, ``fused_enabled()`` is False: the model runs stock ``F.linear``/``F.relu``. Tests and benchmarks."""
    global _unfused
    previous, _unfused = _unfused, True
    try:
        yield
    finally:
        _unfused = previous


def fused_enabled() -> bool:
    return not _unfused


_threshold_backward_into = torch.ops.aten.threshold_backward.grad_input


class _ReluMLPFunction(torch.autograd.Function):
    """y = relu(x @ w_in.T + b_in) @ w_out.T + b_out over the last dimension of x."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w_in: torch.Tensor, b_in: torch.Tensor, w_out: torch.Tensor,
                b_out: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        hidden = torch.addmm(b_in, rows, w_in.t()).clamp_min_(0)  # F.relu is clamp_min(0): same bytes, in place
        y = torch.addmm(b_out, hidden, w_out.t())
        ctx.save_for_backward(rows, w_in, w_out, hidden)
        ctx.input_shape = x.shape
        return y.view(*x.shape[:-1], y.shape[-1])

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        rows, w_in, w_out, hidden = ctx.saved_tensors
        grad_y = grad_y.reshape(-1, grad_y.shape[-1])
        grad_w_out = grad_y.t().mm(hidden)
        grad_b_out = grad_y.sum(0)
        grad_hidden = grad_y.mm(w_out)
        _threshold_backward_into(grad_hidden, hidden, 0, grad_input=grad_hidden)  # relu's gradient, in place
        grad_w_in = grad_hidden.t().mm(rows)
        grad_b_in = grad_hidden.sum(0)
        grad_x = grad_hidden.mm(w_in)
        return grad_x.view(ctx.input_shape), grad_w_in, grad_b_in, grad_w_out, grad_b_out


def relu_mlp(x: torch.Tensor, ff_in: nn.Linear, ff_out: nn.Linear) -> torch.Tensor:
    """``ff_out(relu(ff_in(x)))``, byte for byte, with the activation and its gradient computed in place."""
    return _ReluMLPFunction.apply(x, ff_in.weight, ff_in.bias, ff_out.weight, ff_out.bias)
