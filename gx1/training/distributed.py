"""Data-parallel training under torchrun (DistributedDataParallel): which rank this process is, and the
few collective operations a run needs. Without torchrun (no WORLD_SIZE, or WORLD_SIZE=1) every
function here is a no-op and the run is the plain single-process one, byte for byte.

    torchrun --standalone --nproc_per_node 2 -m gx1.models.entry_v10.entry_v10_ctx_train <the plan's flags>

Semantics (docs/scaling.md): the global batch is ``--batch_size`` rows, as in one process; each
rank takes the rows ``rank::world_size`` of every global batch, scales its loss by its share of the
rows, and DDP's averaged gradient is then the gradient of the global batch's mean loss. The logged
losses are summed over the ranks, so every rank holds the same history. Rank 0 alone writes logs,
checkpoints, metrics and the bundle; a resumed run reads rank 0's checkpoint and broadcasts it.
Backend: gloo on CPU, NCCL on CUDA (one GPU per rank, ``cuda:LOCAL_RANK``).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import torch

from gx1.common import InputError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes torchrun started."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_from_env() -> World:
    """The World torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK (a single process when unset)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise InputError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (torchrun sets them)") from None
    if size < 1 or not 0 <= rank < size or local_rank < 0:
        raise InputError(f"WORLD_SIZE={size} RANK={rank} LOCAL_RANK={local_rank} is not a valid process group")
    return World(rank, size, local_rank)


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (gloo on CPU, NCCL on CUDA); returns the device this rank trains on."""
    if not world.active:
        return device
    import torch.distributed as dist
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device


def stop(world: World) -> None:
    if world.active:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()


def wrap(model: torch.nn.Module, world: World) -> torch.nn.Module:
    """The module the training step calls: DDP around ``model`` in a process group, else ``model`` itself.
    Buffers (the context statistics) are fixed after construction, so they are not re-broadcast each step."""
    if not world.active:
        return model
    from torch.nn.parallel import DistributedDataParallel
    device = next(model.parameters()).device
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   broadcast_buffers=False)


def shard(rows: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's rows of a global batch: every ``size``-th row from ``rank``."""
    return rows[world.rank::world.size] if world.active else rows


def all_sum(values: torch.Tensor, world: World) -> torch.Tensor:
    """Element-wise sum over the ranks (in place; the tensor itself outside a process group)."""
    if world.active:
        import torch.distributed as dist
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier(world: World) -> None:
    if world.active:
        import torch.distributed as dist
        dist.barrier()


def broadcast_bytes(blob: bytes | None, world: World) -> bytes | None:
    """Rank 0's ``blob`` on every rank (a checkpoint read by rank 0 only: no shared disk needed)."""
    if not world.active:
        return blob
    import torch.distributed as dist
    box = [blob if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def load_state(blob: bytes) -> dict:
    """A checkpoint's state from its bytes: tensors, lists and numbers only (weights_only)."""
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
