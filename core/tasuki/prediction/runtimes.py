"""Runtimes a trained model can predict on: torch (the default) and ONNX Runtime.

There is one prediction path (:func:`tasuki.prediction.predict.predict_outputs` calling
``task.predict_step(model, batch)``); a runtime only changes what ``model`` is. An ONNX
export (:mod:`tasuki.onnx_export`) is loaded as an :class:`OnnxModel`: called like the torch
model it replaces (``model(input_ids=..., attention_mask=...)``), it runs an ONNX Runtime
session and returns what the torch model returned, a ``ModelOutput`` with the same field
names (``logits``, ``start_logits``...) or a plain tensor (sentence vectors), as torch
tensors. Every task's own post-processing (offsets, windows, aggregation, no-answer
threshold, pooling) therefore runs unchanged.

Threads: ONNX Runtime's intra-op pool gets one thread per *physical* core available to the
process (hyper-threads share a core's vector units, so a second thread per core adds
contention, not speed); ``TASUKI_ONNX_THREADS`` overrides it, e.g. for several server workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.errors import CheckpointError, MissingExtraError, TasukiError

if TYPE_CHECKING:
    import torch

    from tasuki.task import Task

logger = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnx")
ONNX_FILE = "model.onnx"
THREADS_ENV = "TASUKI_ONNX_THREADS"
# Inputs a caller may leave out, and what the torch model then uses: BERT-like models read a
# missing attention mask as all ones and missing token types as all zeros.
_DEFAULTS = {"attention_mask": 1, "token_type_ids": 0}


def require_onnx(*modules: str) -> None:
    """Import ``modules`` (default: onnxruntime) or raise one line that says what to install."""
    import importlib

    missing = []
    for name in modules or ("onnxruntime",):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(f"ONNX support needs {', '.join(missing)}: pip install 'tasuki[onnx]'")


def physical_cores() -> int:
    """Physical cores this process may run on (at least 1).

    The CPUs in the process's affinity mask (a container or ``taskset`` limit), capped by the
    machine's physical core count (``psutil`` when installed, else half the logical CPUs,
    assuming two hyper-threads per core).
    """
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        available = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or available
    except ImportError:
        physical = max(1, (os.cpu_count() or 2) // 2)
    return max(1, min(available, physical))


def intra_op_threads() -> int:
    """``TASUKI_ONNX_THREADS`` when set, else :func:`physical_cores`."""
    value = os.environ.get(THREADS_ENV)
    if value is None or value == "":
        return physical_cores()
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise TasukiError(f"{THREADS_ENV}={value!r}: expected a whole number of threads >= 1")
    return threads


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime session options: all graph optimizations, ``threads`` intra-op threads, sequential."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or intra_op_threads()
    options.inter_op_num_threads = 1  # one graph at a time: parallelism lives inside the operators
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: shape-inference notes would flood stderr
    return options


class OnnxModel:
    """An ONNX export that the tasks' ``predict_step`` can call as if it were the torch model.

    :param path: the ``.onnx`` file.
    :param spec: ``tasuki.json``'s ``onnx`` entry: ``inputs`` (graph input names), ``outputs``
        (graph output names, in order) and ``returns`` (``"model_output"`` or ``"tensor"``).
    :param threads: intra-op threads (default: :func:`intra_op_threads`).
    """

    def __init__(self, path: str | Path, spec: dict[str, Any], threads: int | None = None) -> None:
        require_onnx("onnxruntime")
        import onnxruntime as ort
        import torch

        self.path = Path(path)
        self.spec = spec
        self.input_names: list[str] = list(spec["inputs"])
        self.output_names: list[str] = list(spec["outputs"])
        self.returns: str = spec.get("returns", "model_output")
        self.threads = threads or intra_op_threads()
        self.providers = ["CPUExecutionProvider"]
        self._ort = ort
        self.session = ort.InferenceSession(str(self.path), session_options(self.threads), providers=self.providers)
        graph_inputs = {i.name: i.type for i in self.session.get_inputs()}
        if set(graph_inputs) != set(self.input_names):
            raise CheckpointError(f"{self.path}: graph inputs {sorted(graph_inputs)} differ from tasuki.json's "
                                  f"{sorted(self.input_names)}; export the model again")
        # int64 unless the graph says int32 (what a caller's tensors are cast to)
        self._dtypes = {name: "int32" if kind == "tensor(int32)" else "int64" for name, kind in graph_inputs.items()}
        # predict_outputs moves batches to the device of the model's first parameter: the CPU, where
        # ONNX Runtime reads its inputs. An empty tensor, not a weight: the weights live in the session.
        self._anchor = torch.empty(0)

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, threads={self.threads}, providers={self.providers})"

    # --- what torch-model callers use -------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Inputs are read from host memory, whatever provider runs the graph."""
        return self._anchor.device

    def parameters(self) -> Iterator[torch.Tensor]:
        """One empty CPU tensor: code that finds a model's device from its first parameter gets the CPU."""
        yield self._anchor

    def eval(self) -> OnnxModel:
        """No-op (an export has no dropout to switch off); returns self like ``nn.Module.eval``."""
        return self

    def train(self, mode: bool = True) -> OnnxModel:
        """An export cannot be trained: a clear error instead of a silent no-op."""
        if mode:
            raise TasukiError("an ONNX export is for prediction only; train the source model instead")
        return self

    def to(self, device: Any = None, *args: Any, **kwargs: Any) -> OnnxModel:
        """Choose the execution provider: CUDA when asked for and ONNX Runtime has it, else the CPU."""
        kind = getattr(device, "type", str(device or "cpu")).split(":")[0]
        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"] if kind == "cuda" else ["CPUExecutionProvider"]
        if kind == "cuda" and "CUDAExecutionProvider" not in self._ort.get_available_providers():
            # load() asks for CUDA whenever torch sees a GPU; this onnxruntime build has no CUDA provider
            logger.info("onnxruntime has no CUDA provider here (install onnxruntime-gpu); predicting on the CPU")
            wanted = ["CPUExecutionProvider"]
        if wanted != self.providers:
            self.providers = wanted
            self.session.set_providers(wanted)
        return self

    def __call__(self, **inputs: Any) -> Any:
        """Run the graph on torch tensors ``(B, T)``; return the torch model's output structure."""
        import numpy as np
        import torch
        from transformers.utils import ModelOutput

        given = {k: v for k, v in inputs.items() if v is not None}
        if "input_ids" not in given:
            raise TasukiError(f"{self.path}: the model needs input_ids; got {sorted(given)}")
        ids = given["input_ids"]
        feed: dict[str, np.ndarray] = {}
        for name in self.input_names:
            value = given.pop(name, None)
            if value is None:
                if name not in _DEFAULTS:
                    raise TasukiError(f"{self.path}: the model needs {name!r}; got {sorted(inputs)}")
                value = torch.full_like(ids, _DEFAULTS[name])
            feed[name] = value.detach().cpu().numpy().astype(self._dtypes[name], copy=False)
        for name, value in given.items():
            # token types the graph does not take: all zeros is what the torch model assumes without them
            if name == "token_type_ids" and isinstance(value, torch.Tensor) and not bool(value.any()):
                continue
            raise TasukiError(f"{self.path}: the exported graph takes {self.input_names}, not {name!r}")
        arrays = self.session.run(self.output_names, feed)
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
        if self.returns == "tensor":
            return tensors[0]
        return ModelOutput(**dict(zip(self.output_names, tensors)))


def is_onnx_export(metadata: dict[str, Any]) -> bool:
    """Whether a model directory's ``tasuki.json`` describes an ONNX export."""
    return metadata.get("runtime", "torch") == "onnx"


@contextmanager
def no_transformers_bars() -> Iterator[None]:
    """transformers' own progress bars off for the block: loading or writing a local model's weights draws a
    bar per call for a fraction of a second, two lines of noise in every ``tasuki predict``."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_model(task: Task, directory: Path, metadata: dict[str, Any]) -> Any:
    """The model of a tasuki directory on its runtime: ``task.load_model`` for torch, an :class:`OnnxModel`
    for an ONNX export."""
    runtime = metadata.get("runtime", "torch")
    if runtime == "torch":
        with no_transformers_bars():
            return task.load_model(directory)
    if runtime != "onnx":
        raise CheckpointError(f"{directory}: unknown runtime {runtime!r} in tasuki.json (known: {', '.join(RUNTIMES)})")
    spec = metadata.get("onnx") or {}
    path = Path(directory) / spec.get("file", ONNX_FILE)
    if not path.is_file():
        raise CheckpointError(f"{directory}: an ONNX export without its graph ({path.name} is missing)")
    return OnnxModel(path, spec)
