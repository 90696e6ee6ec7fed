"""ONNX export of models with several named inputs (the denoiser's image, time and label), one self-contained
file each, with the same opset, IR version cap and parity tolerance as ``export.py``."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from generator.models.export import OPSET, PARITY_TOLERANCE, checked_bytes

WEIGHT_INPUTS = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1, "Gather": 0}   # op -> its weight's input


def onnx_bytes_inputs(model: nn.Module, examples: dict[str, torch.Tensor], output_name: str) -> bytes:
    """Export ``model`` (eval mode, on CPU) called as ``model(*examples.values())`` to ONNX bytes: inputs named
    after ``examples``' keys, every input's first axis one dynamic batch axis, weights inline."""
    model = model.cpu().eval()
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, tuple(examples.values()), input_names=list(examples), output_names=[output_name],
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
            dynamic_shapes=tuple({0: batch} for _ in examples),
        )
    return checked_bytes(program.model_proto)


def parity_inputs(model: nn.Module, model_bytes: bytes, inputs: dict[str, np.ndarray]) -> float:
    """Max |onnxruntime - PyTorch| of the first output for named numpy inputs (dtypes as the model takes them)."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, inputs)
    with torch.no_grad():
        torch_out = model.cpu().eval()(*(torch.from_numpy(a) for a in inputs.values())).numpy()
    return float(np.abs(onnx_out - torch_out).max())


def denoiser_examples(count: int = 2) -> dict[str, torch.Tensor]:
    """Example inputs of the denoiser's signature: x [N,1,28,28] float32, t [N] float32, label [N] int64."""
    return {"x": torch.zeros(count, 1, 28, 28), "t": torch.zeros(count), "label": torch.zeros(count, dtype=torch.long)}


def export_denoiser(model: nn.Module, seed: int = 0, count: int = 16, half: bool = False) -> tuple[bytes, float]:
    """The denoiser's ONNX bytes (output "velocity"; with ``half``, its weights stored as float16), checked against
    PyTorch on random inputs at times 0, 0.5, 1 and random ones (all labels 0–10), and the max abs difference;
    raises over ``PARITY_TOLERANCE`` (a half file passes only for weights already at float16 precision)."""
    data = onnx_bytes_inputs(model, denoiser_examples(), "velocity")
    data = half_weights(data) if half else data
    rng = np.random.default_rng(seed)
    diff = 0.0
    for times in (np.zeros(count), np.full(count, 0.5), np.ones(count), rng.random(count)):
        inputs = {"x": rng.standard_normal((count, 1, 28, 28), dtype=np.float32),
                  "t": times.astype(np.float32), "label": rng.integers(0, 11, count).astype(np.int64)}
        diff = max(diff, parity_inputs(model, data, inputs))
    if diff > PARITY_TOLERANCE:
        raise RuntimeError(f"{type(model).__name__}: ONNX and PyTorch differ by {diff:.2e} (> {PARITY_TOLERANCE})")
    return data, diff


def half_weights(model_bytes: bytes) -> bytes:
    """An exported model made small for the browser: its weights (the kernels and matrices of convolutions, dense
    layers and embeddings) stored as float16, each behind a Cast back to float32 that onnxruntime folds when it
    creates the session, so the arithmetic stays float32; biases, norms and other constants stay float32. The
    exporter's per-node metadata (source paths and stack traces) and value_info are dropped."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    weights = {node.input[WEIGHT_INPUTS[node.op_type]] for node in graph.node if node.op_type in WEIGHT_INPUTS}
    casts = []
    for tensor in graph.initializer:
        if tensor.name in weights and tensor.data_type == TensorProto.FLOAT:
            half = numpy_helper.to_array(tensor).astype(np.float16)
            casts.append(helper.make_node("Cast", [f"{tensor.name}.f16"], [tensor.name], to=TensorProto.FLOAT))
            tensor.CopyFrom(numpy_helper.from_array(half, f"{tensor.name}.f16"))
    for node in graph.node:
        del node.metadata_props[:]
    del graph.value_info[:]
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return checked_bytes(model)
