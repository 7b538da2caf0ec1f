"""int8 quantization of an exported ONNX graph, and silencing the exporter's chatter.

Each weight ``MatMul`` becomes ONNX Runtime's ``MatMulIntegerToFloat`` on int8 weights (symmetric, one scale per
output column by default) and uint8 activations quantized at run time with **one scale per token** (per row of
the activation; symmetric, zero point 128), then multiplied by that scale. ONNX Runtime's own
``quantize_dynamic`` gives an activation one scale per *batch*: a text's scores then depend on the other texts
in its batch (on Japanese few-shot models a score moved by up to 0.22 and labels flipped between
``predict([text])`` and the same text in a file), and one long or odd text coarsens every other. Per
token, a text scores the same in any batch, and closer to fp32 (fine-tuned MiniLM: mean |probability
change| 0.005 against 0.009), at 0.86-0.93x the speed of ``quantize_dynamic`` (``bench/export.py``). An
input several MatMuls share (a layer's query, key and value projections) is quantized once. Symmetric
activations (zero point 128 for every row) let ``MatMulIntegerToFloat`` fuse the product and the weight
scales; a zero point per row would need a correction pass after the product.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

_ACTIVATIONS = {"Gelu", "FastGelu", "BiasGelu", "Relu"}
"""The feed-forward activations whose outputs feed the MatMuls ``int8`` keeps in fp32."""
_PASS_THROUGH = {"Reshape", "Transpose", "Identity"}
"""Operators walked through when looking for what produces a MatMul's input."""
_ORT = "com.microsoft"
"""ONNX Runtime's operator domain (``MatMulIntegerToFloat``)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence prints, warnings and log records below ERROR (the exporter's chatter)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def quantize_int8(path: Path, per_channel: bool, keep_ffn_output: bool) -> dict[str, Any]:
    """Replace the graph at ``path`` by its int8 version (module docstring); return what was done.

    :param per_channel: one weight scale per output column (default), else one per matrix.
    :param keep_ffn_output: leave the MatMuls fed by the feed-forward activation (GELU/ReLU) in fp32.
        Their inputs have the widest, most outlier-heavy range of the layer: on MiniLM sentence vectors,
        keeping these 6 of 36 weight MatMuls in fp32 raised the smallest int8-to-fp32 cosine from 0.987
        to 0.991 (mean 0.993 -> 0.996) for ~18% of int8's speed (measured with ONNX Runtime's quantizer).
    """
    import onnx
    from onnx import helper, numpy_helper

    fp32_size = path.stat().st_size
    model = onnx.load(str(path))
    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    kept = ffn_down_projections(graph) if keep_ffn_output else set()
    nodes, added, count = [], _shared_constants(), 0
    quantized: dict[str, tuple[str, str]] = {}  # an input's name -> its uint8 version and row scales
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or node.name in kept or len(weight.dims) != 2:
            nodes.append(node)
            continue
        count += 1
        prefix = f"int8_{count}_"
        if node.input[0] not in quantized:
            quantized[node.input[0]] = (prefix + "x", prefix + "x_scale")
            nodes += _quantize_rows(node.input[0], prefix)
        new_nodes, new_weights = _int8_matmul(node, numpy_helper.to_array(weight), quantized[node.input[0]], prefix,
                                              per_channel)
        nodes += new_nodes
        added += new_weights
    used = {name for node in nodes for name in node.input}
    del graph.node[:]
    graph.node.extend(nodes)
    remaining = [tensor for tensor in graph.initializer if tensor.name in used]  # the fp32 weights replaced go
    del graph.initializer[:]
    graph.initializer.extend(remaining + added)
    if not any(opset.domain == _ORT for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid(_ORT, 1))
    onnx.save(model, str(path))
    return {"method": "tasuki.onnx_quantize (MatMulIntegerToFloat)", "dtype": "int8",
            "scheme": "int8" if keep_ffn_output else "int8-all",
            "weights": "int8, symmetric, " + ("per output channel" if per_channel else "per matrix"),
            "activations": "uint8, symmetric, one scale per token, at run time", "operators": ["MatMul"],
            "per_channel": per_channel, "quantized": count,
            "kept_fp32": f"{len(kept)} feed-forward down-projections" if keep_ffn_output else "none",
            "bytes_fp32": fp32_size, "bytes_int8": path.stat().st_size}


def ffn_down_projections(graph: Any) -> set[str]:
    """The names of the MatMuls whose input comes from a feed-forward activation."""
    producer = {out: node for node in graph.node for out in node.output}

    def source(name: str) -> str | None:
        node = producer.get(name)
        while node is not None and node.op_type in _PASS_THROUGH:
            node = producer.get(node.input[0])
        return node.op_type if node is not None else None

    return {node.name for node in graph.node if node.op_type == "MatMul" and source(node.input[0]) in _ACTIVATIONS}


def _shared_constants() -> list[Any]:
    from onnx import numpy_helper

    constants = {"int8_one": np.float32(1), "int8_per_step": np.float32(1 / 127), "int8_eps": np.float32(1e-12),
                 "int8_last_axis": np.array([-1], dtype=np.int64), "int8_zero_point": np.uint8(128)}
    return [numpy_helper.from_array(np.asarray(value), name) for name, value in constants.items()]


def _quantize_rows(x: str, prefix: str) -> list[Any]:
    """Nodes giving ``prefix + "x"``, ``x`` as uint8 (zero point 128), and ``prefix + "x_scale"``, one per row."""
    from onnx import helper

    steps = [  # (operator, inputs, output, attributes)
        ("Abs", [x], "abs", {}),
        ("ReduceMax", [prefix + "abs", "int8_last_axis"], "peak", {"keepdims": 1}),
        ("Mul", [prefix + "peak", "int8_per_step"], "scale_raw", {}),
        ("Max", [prefix + "scale_raw", "int8_eps"], "x_scale", {}),  # an all-zero row: any scale, x_q = 128
        ("Div", [x, prefix + "x_scale"], "steps", {}),  # within [-127, 127]
        ("QuantizeLinear", [prefix + "steps", "int8_one", "int8_zero_point"], "x", {}),
    ]
    return [helper.make_node(op, inputs, [prefix + out], name=prefix + out, **attributes)
            for op, inputs, out, attributes in steps]


def _int8_matmul(node: Any, weight: np.ndarray, x: tuple[str, str], prefix: str,
                 per_channel: bool) -> tuple[list[Any], list[Any]]:
    """``node`` (``Y = X @ W``) on the quantized ``x`` (uint8 input, row scales) and int8 ``W``: nodes, weights."""
    from onnx import helper, numpy_helper

    weight = weight.astype(np.float32)
    peak = np.abs(weight).max(axis=0) if per_channel else np.full(weight.shape[1], np.abs(weight).max())
    weight_scale = np.maximum(peak, 1e-12).astype(np.float32) / 127
    quantized = np.clip(np.rint(weight / weight_scale), -127, 127).astype(np.int8)
    new_weights = [numpy_helper.from_array(quantized, prefix + "w"),
                   numpy_helper.from_array(weight_scale, prefix + "w_scale")]
    x_q, x_scale = x
    nodes = [helper.make_node("MatMulIntegerToFloat", [x_q, prefix + "w", "int8_one", prefix + "w_scale",
                                                       "int8_zero_point"], [prefix + "y_rows"],
                              name=prefix + "y_rows", domain=_ORT),
             helper.make_node("Mul", [prefix + "y_rows", x_scale], list(node.output), name=prefix + "y")]
    return nodes, new_weights
