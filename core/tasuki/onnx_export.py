"""Export a trained model to ONNX (optionally int8), for fast CPU prediction with ONNX Runtime.

``export(DIR, OUT, quantize="int8")`` writes ``OUT/model.onnx``, the tokenizer, ``config.json``
and ``tasuki.json`` (``"runtime": "onnx"``, the quantization, the source model); ``tasuki.load(OUT)``
then predicts and evaluates through the same task code as the torch model
(:mod:`tasuki.prediction.runtimes`). The package's ``tasuki.export`` is :func:`export` itself: this module
is named ``onnx_export`` so that importing it (as the CLI does) never binds a module over that function.

- The graph is what the task's ``predict_step`` calls: the head model for classification, NER,
  QA and fill-mask (all its outputs, e.g. ``start_logits`` and ``end_logits``), the whole sentence
  encoder (pooling and normalization included) for embeddings. Its inputs are those of the
  tokenizer the model also takes; batch and sequence axes are dynamic.
- Exporter: ``torch.onnx.export(dynamo=True)`` with ``dynamic_shapes``. The TorchScript exporter
  (``dynamo=False``) gave a BERT graph whose logits were off by ~1e-2 on padded batches (tracing
  fixes transformers 5's shape-dependent attention branches at the example's shapes); the dynamo
  graph matched torch to ~1e-8. (Optimum's exporters would pin transformers 4.x: not used.)
- int8 (:mod:`tasuki.onnx_quantize`): int8 weights and uint8 activations quantized at run time with one
  scale per token, so a text's scores do not depend on the other texts in its batch (ONNX Runtime's
  ``quantize_dynamic`` gives an activation one scale per batch: see that module). ``MatMul`` nodes only
  (the embedding tables stay fp32: a ``Gather`` is a lookup, quantizing it shrinks the file, not the
  time). ``int8`` keeps the feed-forward down-projections in fp32, ``int8-all`` does not.
  One weight scale per output channel: on MiniLM fine-tuned on tweets, per-channel scales left a mean
  |logit change| of 0.011 against 0.034 per-tensor (one scale lets a matrix's largest column
  coarsen all the others), at the same speed; both kept the accuracy within 0.5 point (measured with
  ONNX Runtime's quantizer, before the per-token activations).
- Every export is checked: the graph runs on a small padded batch and its outputs are compared
  with torch's; the largest difference is recorded in ``tasuki.json`` (fp32 must agree within
  1e-3, else the export fails).
- Quality gate (``eval_data=``): the torch model and the staged export are evaluated on the same
  labelled data by ``TrainedModel.evaluate`` (the one evaluation path); an export whose main metric
  is more than ``max_drop`` (absolute) worse is not published. Both figures go into ``tasuki.json``.
- Opset: the dynamo exporter builds opset 18 graphs and converts them up to 25 (onnxscript's
  version converter); below 18 it falls back to onnx's C converter, which fails on some operators
  and then leaves the graph at 18 without a word. Only :data:`OPSETS` are accepted, and the
  written graph's opset is checked against the one asked for.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import shutil
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import CheckpointError, TasukiError, path_argument
from tasuki.files import atomic_write_json, file_sha256, staged_directory
from tasuki.model_dir import METADATA_FILE, file_hashes, read_metadata
from tasuki.onnx_quantize import quantize_int8, quiet
from tasuki.prediction.runtimes import ONNX_FILE, OnnxModel, is_onnx_export, require_onnx

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("int8", "int8-all")
"""``int8``: every weight MatMul but the feed-forward down-projections; ``int8-all``: every one (faster)."""
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
FP32_TOLERANCE = 1e-3
"""Largest |ONNX - torch| output difference an fp32 export may show on the check batch (typical: 1e-6)."""
_CHECK_TEXTS = ["tasuki exports this model to onnx, and checks it on a padded batch.", "a short one"]
OPSETS = tuple(range(18, 26))
"""The opsets ``opset=`` accepts: what torch's dynamo exporter builds (18) up to what onnxscript converts to (25)."""
MAX_DROP = 0.01
"""The default ``max_drop`` of the quality gate: one point of accuracy (or F1, ...)."""


class ExportError(TasukiError):
    """A model cannot be exported (unsupported architecture, output directory in use, ...)."""


def export(
    model_dir: str | Path,
    output: str | Path,
    *,
    quantize: str | None = None,
    per_channel: bool = True,
    opset: int | None = None,
    eval_data: Any = None,
    max_drop: float | None = None,
) -> Path:
    """Export the tasuki model in ``model_dir`` to ONNX in ``output``; return ``output``.

    :param quantize: ``None`` (fp32), ``"int8"`` (dynamic quantization of the weight MatMuls, the
        feed-forward down-projections kept fp32) or ``"int8-all"`` (every weight MatMul: faster, less exact).
    :param per_channel: int8 scales per output channel (default) rather than one per tensor.
    :param opset: the ONNX opset, one of :data:`OPSETS` (default: the exporter's, 18).
    :param eval_data: labelled data (a file, dataset or rows, with the model's column mapping): the
        torch model and the export are evaluated on it, and the export is published only if its main
        metric is at most ``max_drop`` worse.
    :param max_drop: the largest drop of the main metric allowed (absolute; default :data:`MAX_DROP`).
    :raises ExportError: unsupported model, quantization or opset, ``output`` holds something else, or
        the export fails the quality gate (nothing is then written).
    :raises MissingExtraError: onnx / onnxruntime / onnxscript are not installed.
    """
    _check_arguments(quantize, per_channel, opset, max_drop, eval_data)
    source, output = path_argument("model_dir", model_dir), path_argument("output", output)
    require_onnx("onnx", "onnxruntime", "onnxscript")
    metadata = read_metadata(source)  # not a trained model: one clear line
    if is_onnx_export(metadata):
        raise ExportError(f"{source} is already an ONNX export (of {metadata.get('source', {}).get('directory', '?')});"
                          " export the trained model itself")
    _check_output(output, source)

    from tasuki.api import load

    loaded = load(source, device="cpu")
    model, tokenizer = loaded.model, loaded.tokenizer
    # the source first: bad evaluation data fails before minutes of exporting
    reference = loaded.evaluate(eval_data) if eval_data is not None else None
    inputs = _input_names(model, tokenizer)
    batch = _check_batch(tokenizer, inputs)
    returns, outputs = _describe_outputs(model, batch)

    # staged beside output and swapped in: a reader sees the old export or the new one
    with staged_directory(output) as staging:
        graph = staging / ONNX_FILE
        _torch_export(model, batch, inputs, outputs, returns, graph, opset)
        quantization = quantize_int8(graph, per_channel, keep_ffn_output=quantize == "int8") if quantize else None
        spec = {"file": ONNX_FILE, "inputs": list(inputs), "outputs": outputs, "returns": returns,
                "exporter": "torch.onnx.export(dynamo=True)", "opset": _opset(graph)}
        if opset is not None and spec["opset"] != opset:
            raise ExportError(f"{source}: asked for opset {opset}, the exporter wrote opset {spec['opset']}; "
                              f"leave opset unset or choose another from {OPSETS[0]} to {OPSETS[-1]}")
        spec["max_abs_diff"] = _compare(model, OnnxModel(graph, spec, threads=1), batch, outputs, returns)
        if quantization is None and spec["max_abs_diff"] > FP32_TOLERANCE:
            raise ExportError(f"{source}: the ONNX graph disagrees with torch by {spec['max_abs_diff']:.2e} "
                              f"(> {FP32_TOLERANCE}) on a check batch; this architecture does not export faithfully")
        tokenizer_files = [Path(f).name for f in tokenizer.save_pretrained(staging) or ()]
        if (source / "config.json").is_file():
            shutil.copy2(source / "config.json", staging / "config.json")
        exported = _export_metadata(metadata, source, graph, spec, quantization)
        exported["tokenizer_sha256"] = file_hashes(staging, tokenizer_files)  # re-saved: not the source's bytes
        atomic_write_json(staging / METADATA_FILE, exported)
        if reference is not None:
            exported["quality_gate"] = _quality_gate(loaded.task, reference, load(staging, device="cpu"), eval_data,
                                                     MAX_DROP if max_drop is None else max_drop)
            atomic_write_json(staging / METADATA_FILE, exported)
    return output


# --- the quality gate ----------------------------------------------------------------------------


def _quality_gate(task: Any, reference: dict[str, Any], exported: Any, data: Any, max_drop: float) -> dict[str, Any]:
    """Evaluate the staged export on ``data``; raise if its main metric is more than ``max_drop`` worse than
    ``reference`` (the torch model's metrics on the same data), else return both figures for ``tasuki.json``."""
    measured = exported.evaluate(data)
    names = (task.main_metric,) if isinstance(task.main_metric, str) else tuple(task.main_metric)
    metric = next((n for n in names if _finite(reference.get(n)) and _finite(measured.get(n))), None)
    if metric is None:
        raise ExportError(f"quality gate: the evaluation on {data} gave no {' or '.join(names)} to compare; "
                          f"export without eval_data")
    before, after = float(reference[metric]), float(measured[metric])
    drop = round(before - after if task.greater_is_better else after - before, 10)  # 0.9 - 0.89 is not 0.01000...09
    if drop > max_drop:
        verb = "drops" if task.greater_is_better else "rises"
        raise ExportError(f"quality gate: {metric} on {data} {verb} by {drop:.4f}, from {before:.4f} (source) to "
                          f"{after:.4f} (export), more than max_drop {max_drop}; the export is not written "
                          f"(export fp32, or --quantize int8 rather than int8-all, or allow a larger --max-drop)")
    return {"data": str(data), "metric": metric, "source": before, "export": after, "drop": drop,
            "max_drop": max_drop, "greater_is_better": task.greater_is_better}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- the output directory ------------------------------------------------------------------------


def _check_arguments(quantize: str | None, per_channel: Any, opset: Any, max_drop: Any, eval_data: Any) -> None:
    """:func:`export`'s arguments, each refused in one line naming it and what is allowed."""
    if quantize not in (None, *QUANTIZATIONS):
        raise ExportError(f"quantize={quantize!r}: expected one of {list(QUANTIZATIONS)} (or none for fp32)")
    if not isinstance(per_channel, bool):  # "no" would be true, quantized per channel and recorded as "no"
        raise ExportError(f"per_channel={per_channel!r} is not allowed; allowed: True or False")
    if opset is not None and (type(opset) is not int or opset not in OPSETS):
        raise ExportError(f"opset={opset!r} is not allowed; allowed: an integer from {OPSETS[0]} to {OPSETS[-1]} "
                          f"(what torch's dynamo exporter writes), or none for {OPSETS[0]}")
    if max_drop is not None:
        if eval_data is None:
            raise ExportError("max_drop needs eval_data (the labelled data both models are evaluated on)")
        if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or not max_drop >= 0 \
                or math.isinf(max_drop):
            raise ExportError(f"max_drop={max_drop!r} is not allowed; allowed: a number >= 0 (an absolute drop "
                              f"of the main metric, e.g. 0.01)")


def _check_output(output: Path, source: Path) -> None:
    """Refuse an ``output`` that holds anything but an earlier export (or is the source itself)."""
    if output.exists() and not output.is_dir():
        raise ExportError(f"--output {output} is a file; give a directory")
    if output.resolve() == source.resolve():
        raise ExportError(f"--output {output} is the model directory itself; export into another directory")
    if not output.is_dir() or not any(output.iterdir()):
        return
    try:
        earlier = is_onnx_export(read_metadata(output))
    except CheckpointError:
        earlier = False
    if not earlier:
        names = sorted(p.name for p in output.iterdir())
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ExportError(f"--output {output} is not empty and is not an earlier ONNX export ({shown}); "
                          "refusing to overwrite it: choose another directory or empty this one")


def _export_metadata(metadata: dict[str, Any], source: Path, graph: Path, spec: dict[str, Any],
                     quantization: dict[str, Any] | None) -> dict[str, Any]:
    """The source's ``tasuki.json`` plus the runtime, the graph and the quantization.

    The training-time metrics move under ``source``: they were measured on the torch model;
    ``tasuki evaluate OUT`` measures the export.
    """
    result = {k: v for k, v in metadata.items() if k != "metrics"}
    result.update({
        "runtime": "onnx",
        "quantization": quantization,
        "onnx": spec,
        "source": {"directory": str(source.resolve()), "created": metadata.get("created"),
                   "metrics": metadata.get("metrics", {}),
                   # the weights the export was made from: what an embedding index records of its model
                   "weights_sha256": metadata.get("weights_sha256", {})},
        "metrics": {},
        # what load() verifies before reading the graph (the source's own weights are not here)
        "weights_sha256": {spec["file"]: file_sha256(graph)},
        "versions": {**metadata.get("versions", {}), **_versions()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return result


def _versions() -> dict[str, str]:
    found = {}
    for name in ("torch", "onnx", "onnxruntime", "onnxscript"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


# --- the graph ------------------------------------------------------------------------------------


def _input_names(model: torch.nn.Module, tokenizer: Any) -> tuple[str, ...]:
    """The tokenizer's inputs that the model's ``forward`` takes (``input_ids`` first)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        raise ExportError(f"{type(model).__name__}: cannot read its forward() signature; not exportable") from None
    names = [n for n in INPUT_NAMES if n in params and (n == "input_ids" or n in tokenizer.model_input_names)]
    if "input_ids" not in names:
        raise ExportError(f"{type(model).__name__}.forward takes no input_ids; only token-id models export")
    return tuple(names)


def _check_batch(tokenizer: Any, inputs: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Two texts of different lengths, padded: the example batch for tracing and for the check."""
    encoded = tokenizer(_CHECK_TEXTS, padding=True, return_tensors="pt")
    batch = {name: encoded[name] for name in inputs if name in encoded}
    if "attention_mask" in inputs and "attention_mask" not in batch:
        import torch

        batch["attention_mask"] = torch.ones_like(batch["input_ids"])
    if "token_type_ids" in inputs and "token_type_ids" not in batch:
        import torch

        batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
    return batch


def _describe_outputs(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[str, list[str]]:
    """What the model returns: ``("model_output", [field names])`` or ``("tensor", ["output"])``."""
    import torch
    from transformers.utils import ModelOutput

    with torch.inference_mode():
        out = model(**batch)
    if isinstance(out, torch.Tensor):
        return "tensor", ["output"]
    if isinstance(out, ModelOutput):
        names = [k for k, v in out.items() if isinstance(v, torch.Tensor) and k != "loss"]
        if names:
            return "model_output", names
    raise ExportError(f"{type(model).__name__} returns {type(out).__name__}, not tensors; not exportable")


def _graph(model: torch.nn.Module, outputs: list[str], returns: str) -> torch.nn.Module:
    """The model with a ``forward`` that takes the inputs by name and returns plain tensors, in ``outputs`` order."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                    token_type_ids: torch.Tensor | None = None) -> Any:
            given = {"attention_mask": attention_mask, "token_type_ids": token_type_ids}
            out = self.model(input_ids=input_ids, **{k: v for k, v in given.items() if v is not None})
            return out if returns == "tensor" else tuple(out[name] for name in outputs)

    return Graph()


def _torch_export(model: torch.nn.Module, batch: dict[str, torch.Tensor], inputs: tuple[str, ...], outputs: list[str],
                  returns: str, path: Path, opset: int | None) -> None:
    """``torch.onnx.export`` (dynamo) with dynamic batch and sequence axes into one ``.onnx`` file."""
    import torch

    batch_dim, seq_dim = torch.export.Dim("batch"), torch.export.Dim("sequence")
    shapes = {name: {0: batch_dim, 1: seq_dim} for name in inputs}
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    try:
        with quiet():  # the exporter prints its progress, axis-name warnings and absent-torchvision notes
            program = torch.onnx.export(
                _graph(model, outputs, returns), (), kwargs=dict(batch), dynamo=True, dynamic_shapes=shapes,
                input_names=list(inputs), output_names=outputs, opset_version=opset, verbose=False,
                # one self-contained file, unless the weights pass protobuf's 2 GB limit
                external_data=size > 1.8e9,
            )
            program.save(str(path), external_data=size > 1.8e9)
    except Exception as exc:  # the exporter's errors are long: the first line names the operator
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{type(model).__name__} does not export to ONNX: {first}") from None


def _opset(path: Path) -> int | None:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def _compare(model: torch.nn.Module, exported: OnnxModel, batch: dict[str, torch.Tensor], outputs: list[str],
             returns: str) -> float:
    """Largest |exported - torch| over every output on ``batch`` (padded positions included)."""
    import torch

    with torch.inference_mode():
        ref, got = model(**batch), exported(**batch)
    if returns == "tensor":
        return float((ref - got).abs().max())
    return max(float((ref[name].float() - got[name]).abs().max()) for name in outputs)


def export_summary(directory: str | Path) -> dict[str, Any]:
    """What an export holds (for the CLI): task, runtime, quantization, file size, check difference."""
    metadata = read_metadata(directory)
    spec = metadata.get("onnx", {})
    path = Path(directory) / spec.get("file", ONNX_FILE)
    return {"output": str(directory), "task": metadata.get("task"), "runtime": metadata.get("runtime"),
            "quantization": (metadata.get("quantization") or {}).get("scheme", "none (fp32)"),
            "megabytes": round(path.stat().st_size / 1e6, 2) if path.is_file() else None,
            "max_abs_diff": spec.get("max_abs_diff"), "source": metadata.get("source", {}).get("directory"),
            "quality_gate": metadata.get("quality_gate")}


__all__ = ["MAX_DROP", "OPSETS", "QUANTIZATIONS", "ExportError", "export", "export_summary"]
