"""ONNX export: one self-contained file per model, checked against PyTorch with onnxruntime."""
from __future__ import annotations

import io
import logging
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

OPSET = 18
MAX_IR_VERSION = 13          # onnx 1.23 writes IR 14, which onnxruntime(-web) 1.30 rejects
PARITY_TOLERANCE = 1e-4

logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # silence "torchvision is not installed" notes


def onnx_bytes(model: nn.Module, input_shape: tuple[int, ...], input_name: str, output_name: str) -> bytes:
    """Export ``model`` (eval mode, on CPU) to ONNX bytes with a dynamic batch axis and inline weights."""
    model = model.cpu().eval()
    example = torch.zeros(2, *input_shape)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, (example,), input_names=[input_name], output_names=[output_name],
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    return checked_bytes(program.model_proto)


def checked_bytes(proto: onnx.ModelProto) -> bytes:
    """A checked, self-contained ONNX file's bytes, with its IR version capped for onnxruntime(-web) 1.30."""
    proto.ir_version = min(proto.ir_version, MAX_IR_VERSION)
    onnx.checker.check_model(proto)
    buffer = io.BytesIO()
    onnx.save_model(proto, buffer)
    return buffer.getvalue()


def parity(model: nn.Module, model_bytes: bytes, inputs: np.ndarray) -> float:
    """Max |onnxruntime - PyTorch| over a batch of float32 inputs."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: inputs.astype(np.float32)})
    with torch.no_grad():
        torch_out = model.cpu().eval()(torch.from_numpy(inputs.astype(np.float32))).numpy()
    return float(np.abs(onnx_out - torch_out).max())


def export_checked(model: nn.Module, input_shape: tuple[int, ...], input_name: str, output_name: str,
                   real_inputs: np.ndarray, seed: int = 0) -> tuple[bytes, float]:
    """ONNX bytes, checked against PyTorch on real and random inputs, and their max abs difference."""
    data = onnx_bytes(model, input_shape, input_name, output_name)
    random_inputs = np.random.default_rng(seed).random((64, *input_shape), dtype=np.float32)
    diff = max(parity(model, data, real_inputs), parity(model, data, random_inputs))
    if diff > PARITY_TOLERANCE:
        raise RuntimeError(f"{type(model).__name__}: ONNX and PyTorch differ by {diff:.2e} (> {PARITY_TOLERANCE})")
    return data, diff
