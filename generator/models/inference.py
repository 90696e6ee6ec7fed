"""Running trained networks fast on the CPU: fused, channels-last copies and small batches.

Nothing here changes what a network computes (up to float rounding), so the model cache does not hash it.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

INFERENCE_BATCH = 256       # images per forward pass in the generators' loops: small batches stay in the CPU's
                            # caches (the reader reads ~4x as many images a second at 256 as at 2,000)


def in_batches(network: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
               size: int = INFERENCE_BATCH) -> torch.Tensor:
    """``network`` applied to ``x`` a batch of ``size`` rows at a time, the outputs concatenated."""
    return torch.cat([network(x[start:start + size]) for start in range(0, len(x), size)])


def for_inference(model: nn.Module) -> nn.Module:
    """A copy of a trained ``model`` that computes the same function faster on the CPU: in eval mode, each
    convolution followed by batch norm fused into one convolution, and the weights channels-last (the layout
    oneDNN's kernels prefer; about 4x the reader's throughput, 2x its input gradients)."""
    fast = copy.deepcopy(model).eval()
    for block in fast.modules():
        if isinstance(block, nn.Sequential):
            fuse_batch_norms(block)
    return fast.to(memory_format=torch.channels_last)


def fuse_batch_norms(block: nn.Sequential) -> None:
    """Fold every ``BatchNorm2d`` that directly follows a ``Conv2d`` of ``block`` into that convolution."""
    layers: list[nn.Module] = []
    for layer in block:
        if isinstance(layer, nn.BatchNorm2d) and layers and isinstance(layers[-1], nn.Conv2d):
            layers[-1] = fuse_conv_bn_eval(layers[-1], layer)
        else:
            layers.append(layer)
    for name in list(block._modules):
        del block._modules[name]
    for index, layer in enumerate(layers):
        block.add_module(str(index), layer)
