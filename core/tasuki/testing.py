"""Tiny, offline models for tests: a few-layer BERT with a WordPiece vocab written on the spot, and encoders of
other architectures (:func:`tiny_encoder`).

No test may reach a model hub, so tests (the core's and every plugin's) build their own
backbone in a temporary directory::

    from tasuki.testing import tiny_bert
    path = tiny_bert(tmp_path, words=["good", "bad", "movie"])
    tasuki.train("sentiment", data=rows, backbone=str(path), output_dir=tmp_path / "out")
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    from tasuki.registry import Registry

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BASIC_WORDS = (
    "the a an is was it this that and or not very good bad great terrible movie film food service "
    "i you we they he she love hate like nice awful okay fine day time people place"
).split()


def tiny_vocab(words: Iterable[str] = (), japanese: bool = False) -> list[str]:
    """A WordPiece vocabulary: special tokens, whole words, and every character as start and ``##`` piece."""
    chars = set(string.ascii_lowercase + string.digits + string.punctuation)
    words = [w.lower() for w in (*BASIC_WORDS, *words)]
    for w in words:
        chars.update(w)
    if japanese:
        chars.update(chr(c) for c in range(0x3041, 0x3097))  # hiragana
        chars.update(chr(c) for c in range(0x30A1, 0x30FB))  # katakana
        chars.update("。、「」ー！？日本語東京都大阪京山田太郎花子会社株式年月時人私彼女映画料理店良悪最高低")
    vocab = list(SPECIAL_TOKENS)
    seen = set(vocab)
    for token in [*sorted(set(words)), *sorted(chars), *("##" + c for c in sorted(chars))]:
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    return vocab


def tiny_bert(
    directory: str | Path,
    words: Iterable[str] = (),
    *,
    japanese: bool = False,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    max_position_embeddings: int = 128,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised tiny ``BertModel`` + fast WordPiece tokenizer to ``directory``.

    The directory is a normal Hugging Face model directory (safetensors), usable as
    ``--backbone``. Returns its path.
    """
    import torch
    from transformers import BertConfig, BertModel

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _wordpiece_tokenizer(words, japanese, max_position_embeddings)
    (directory / "vocab.txt").write_text("\n".join(tokenizer.convert_ids_to_tokens(range(len(tokenizer)))) + "\n",
                                         encoding="utf-8")
    tokenizer.save_pretrained(directory)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=max_position_embeddings,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory, safe_serialization=True)
    return directory


def _wordpiece_tokenizer(words: Iterable[str], japanese: bool, max_length: int) -> Any:
    """A fast WordPiece tokenizer over :func:`tiny_vocab`, lower-cased as BERT's uncased models are."""
    from transformers import BertTokenizerFast

    vocab = tiny_vocab(words, japanese=japanese)
    return BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}, do_lower_case=True,
                             strip_accents=False if japanese else None,  # NFD would strip dakuten: で -> て
                             model_max_length=max_length)


def tiny_sentencepiece_tokenizer(text: str, pieces: Iterable[str] = ()) -> Any:
    """An XLM-R-style fast tokenizer (Unigram pieces, ``▁`` for a space or the text's start),
    as E5 and XLM-R use: every character of ``text`` plus the multi-character ``pieces``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(text) - {" "})
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -5.0)]
    vocab += [(c, -5.0) for c in chars] + [(p, -1.0) for p in dict.fromkeys(pieces)]  # long pieces win
    backend = Tokenizer(models.Unigram(vocab, unk_id=3))
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>")


ARCHITECTURES = ("distilbert", "xlm-roberta", "deberta-v2", "modernbert")
"""Encoders :func:`tiny_encoder` builds besides BERT: no token type ids (DistilBERT, ModernBERT), SentencePiece
pieces whose offsets hold the space before them and positions offset by the padding id (XLM-R, the e5
backbone's family), relative positions (DeBERTa-v2), local-global attention (ModernBERT)."""


def tiny_encoder(directory: str | Path, architecture: str, words: Iterable[str] = (), *, seed: int = 0) -> Path:
    """Write a randomly initialised tiny encoder of ``architecture`` (one of :data:`ARCHITECTURES`) with its
    kind of tokenizer (WordPiece for DistilBERT, else SentencePiece-style pieces with a ``<mask>``) to
    ``directory``: a backbone a user might bring that is not BERT. Returns its path."""
    import torch
    import transformers

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    size = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    if architecture == "distilbert":
        tokenizer = _wordpiece_tokenizer(words, False, 128)
        config = transformers.DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                               max_position_embeddings=128)
    else:
        all_words = [w.lower() for w in (*BASIC_WORDS, *words)]
        tokenizer = tiny_sentencepiece_tokenizer(" ".join(all_words) + string.ascii_lowercase + string.digits +
                                                 string.punctuation, pieces=["▁" + w for w in all_words])
        tokenizer.add_special_tokens({"mask_token": "<mask>"})
        tokenizer.model_max_length = 128
        ids = {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": 0, "eos_token_id": 2}
        config = {
            "xlm-roberta": lambda: transformers.XLMRobertaConfig(vocab_size=len(tokenizer), type_vocab_size=1,
                                                                 max_position_embeddings=130, **ids, **size),
            "deberta-v2": lambda: transformers.DebertaV2Config(vocab_size=len(tokenizer), type_vocab_size=0,
                                                               max_position_embeddings=128, relative_attention=True,
                                                               position_buckets=32, pos_att_type=["p2c", "c2p"],
                                                               pad_token_id=tokenizer.pad_token_id, **size),
            "modernbert": lambda: transformers.ModernBertConfig(vocab_size=len(tokenizer), max_position_embeddings=128,
                                                                cls_token_id=0, sep_token_id=2, local_attention=16,
                                                                global_attn_every_n_layers=1, **ids, **size),
        }[architecture]()
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    transformers.AutoModel.from_config(config).save_pretrained(directory, safe_serialization=True)
    return directory


def run_cli(*args: object, command: Any = None) -> tuple[int, str, str]:
    """Run ``tasuki ARGS...`` (or a plugin's click ``command``) in-process: ``(exit code, stdout, stderr)``.

    Every refusal tasuki makes is a message and an exit code, never an exception escaping the CLI, so
    an escaped one fails the test as an ``AssertionError`` that names the command line.
    """
    from click.testing import CliRunner

    if command is None:
        from tasuki.cli import cli as command

    result = CliRunner().invoke(command, [str(a) for a in args])
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        raise AssertionError(f"{args}: traceback {type(error).__name__}: {error}")
    return result.exit_code, result.stdout, result.stderr


def refusal(*args: object) -> str:
    """The one line a refused ``tasuki ARGS...`` prints last on stderr (exit 2, no traceback)."""
    code, _, err = run_cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err and lines, (args, code, err)
    return lines[-1]


@contextmanager
def only_plugins(*plugins: tuple[str, ModuleType]) -> Iterator[Registry]:
    """For the block, the process-wide registry holds the core's built-ins and ``plugins`` only
    (``(name, module)`` pairs), never what happens to be installed; a test's fixture yields it::

        @pytest.fixture(autouse=True)
        def registry():
            with only_plugins(("sentiment", plugin)) as registry:
                yield registry
    """
    from tasuki.registry import Registry, set_registry

    registry = Registry(list(plugins), entry_points=False)
    set_registry(registry)
    try:
        yield registry
    finally:
        set_registry(None)


def sigkill_script(target: str, prelude: str = "") -> str:
    """A ``python SCRIPT ARGS`` stand-in for ``tasuki ARGS`` that SIGKILLs its own process at the ``KILL_AT``-th
    call (environment variable; 0: never) of ``target``, ``"module:Class.method"`` (e.g. a task's
    ``training_loss``), before the call runs: no Python clean-up happens, as under ``kill -9``. ``prelude``
    is Python run first (e.g. to shrink a buffer so that a short run crosses several)."""
    module, _, attribute = target.partition(":")
    owner, _, method = attribute.rpartition(".")
    return f"""
import os, signal, sys
from {module} import {owner}
{prelude}
kill_at = int(os.environ.get("KILL_AT", "0"))
original = {owner}.{method}
calls = 0

def patched(*args, **kwargs):
    global calls
    calls += 1
    if calls == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

{owner}.{method} = patched
from tasuki.cli import main
sys.argv[0] = "tasuki"
main()
"""


@contextmanager
def headless_chromium(window: str = "1300,1000") -> Iterator[Any]:
    """A selenium driver of headless Chromium (Debian's ``chromium`` and ``chromium-driver``, or the paths in
    ``TASUKI_CHROMIUM`` / ``TASUKI_CHROMEDRIVER``) with a throw-away profile; the test is skipped, saying what to
    install, when either program is missing. ``window`` is the window's size, ``WIDTH,HEIGHT``."""
    import os
    import shutil
    import tempfile

    import pytest
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = os.environ.get("TASUKI_CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("TASUKI_CHROMEDRIVER", "/usr/bin/chromedriver")
    for path in (chromium, chromedriver):
        if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
            pytest.skip(f"{path} not found: install Debian's chromium and chromium-driver (or set "
                        f"TASUKI_CHROMIUM/_CHROMEDRIVER)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="tasuki-chromium-")
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={window}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
