"""``tasuki label``'s embeddings of a pool against ``SentenceTransformer.encode``, in one process.

``tasuki_label.pool.embed`` (what ``suggest`` and the page cluster) batches texts of like length (longest
first); until stop 41 it batched them in the pool's order, each batch padded to its longest text. Three
contenders on the same mixed pool (``bench/embedding.py``'s mix: tweets, BBC sentences and paragraphs) and the
packaged all-MiniLM-L6-v2, 128 tokens, batch 32, on ``--threads`` torch threads; each loads its encoder once
(``embed`` loads it per call, as ``suggest`` does); median (min-max) of ``--repeats`` interleaved runs after a
warm-up, and each one's time over sentence-transformers':

- ``tasuki (by length)``: ``embed(texts, backbone=...)``;
- ``tasuki (pool order)``: stop 40's loop (the backbone loaded as ``embed`` loads it, batches in the pool's order);
- ``sentence-transformers``: ``SentenceTransformer(dir)`` and ``.encode(texts, batch_size=32)`` at
  ``max_seq_length`` 128 (it sorts by characters).

Parity: the smallest cosine between tasuki's and sentence-transformers' vector of one text.

    python bench/label_embed.py              # 2,000 texts, 3 runs
    python bench/label_embed.py --texts 500 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.embedding import mixed_sentences
from bench.harness import timed_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from tasuki.plugin import resolve_backbone
    from tasuki_label.pool import embed

    torch.set_num_threads(args.threads)
    directory = str(resolve_backbone("minilm").directory)
    texts = mixed_sentences(args.texts)
    def pool_order() -> np.ndarray:  # stop 40's embed: batches in the pool's order
        chosen = resolve_backbone(directory)
        encoder, tokenizer, rows = chosen.encoder().eval(), chosen.tokenizer, []
        with torch.inference_mode():
            for start in range(0, len(texts), 32):
                batch = tokenizer(texts[start:start + 32], truncation=True, max_length=128, padding=True,
                                  return_tensors="pt")
                hidden, mask = encoder(**batch).last_hidden_state, batch["attention_mask"].unsqueeze(-1).float()
                rows.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1))
        return torch.cat(rows).numpy()

    def sentence_transformers() -> np.ndarray:
        reference = SentenceTransformer(directory, device="cpu")
        reference.max_seq_length = 128
        return reference.encode(texts, batch_size=32, convert_to_numpy=True)

    contenders = {"tasuki (by length)": lambda: embed(texts, backbone=directory), "tasuki (pool order)": pool_order,
                  "sentence-transformers": sentence_transformers}
    print(f"load average before {os.getloadavg()}")
    spreads, results = timed_runs(contenders, args.repeats)
    base = spreads["sentence-transformers"].median
    for name, spread in spreads.items():
        print(f"| {name} | {spread.text('.2f')} s | {spread.median / base:.2f} |")
    ours, theirs = results["tasuki (by length)"], results["sentence-transformers"]
    cosines = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    print(f"parity: smallest cosine {cosines.min():.6f}; same vectors in pool order: "
          f"{np.allclose(ours, results['tasuki (pool order)'], atol=1e-4)}")
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
