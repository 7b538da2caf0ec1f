"""One labelling session: the text on the page, the queue chosen for it, answers, skips and undo.

An item is a text, or for ``classify-pairs`` a pair ``(text, text_pair)``: the session treats both alike.

The queue is refilled ``batch`` texts at a time by the selection (``typical`` by default; ``uncertainty`` is
``diverse`` until a model exists), in a background thread, so the page never waits on embeddings; a new model
from the trainer is loaded the same way. Skips are remembered for the session only (they are not answers, so
the labels file does not hold them): after a restart a skipped text may be asked again, a labelled one never.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tasuki.plugin import DataError, is_missing
from tasuki_label import DEFAULT_STRATEGY, item_fields

DEFAULT_CANDIDATES = 2000
"""Texts one round chooses among (a fresh random sample of a larger pool): embedding 38,000 tweets would take
minutes on a CPU every round, 2,000 take seconds."""


class Conflict(Exception):
    """A request that does not fit the session's state (an answer to a text no longer shown, nothing to undo)."""


class Session:
    """The page's state; every method is safe to call from the server's threads."""

    def __init__(self, pool: Sequence[str], store: Any, *, strategy: str | None = None, batch: int = 16,
                 candidates: int = DEFAULT_CANDIDATES, backbone: str | None = None, seed: int = 0,
                 trainer: Any = None, model: Any = None, task: str = "classify") -> None:
        self.pool, self.store, self.trainer, self.task = list(pool), store, trainer, task
        self._in_pool = set(self.pool)
        self.strategy, self.batch, self.candidates, self.backbone = strategy, batch, candidates, backbone
        self.rng = random.Random(seed)
        self.seed = seed
        self.model, self.model_dir = model, (Path(model.directory) if model is not None else None)
        self.queue: list[str] = []
        self.skipped: set[str] = set()
        self.history: list[tuple[str, str]] = []  # ("label" | "skip", text), this session's, newest last
        self.item = 0  # the shown text's id: an answer names it, so a double click cannot label the next text
        self.answered = 0
        self.lock = threading.RLock()
        self.choosing: threading.Thread | None = None
        self.rechoose = False  # a model arrived while choosing: choose again with it, replacing the queue
        self.error: str | None = None
        self._guesses: dict[str, tuple[str, float]] = {}
        # a text's vector by the backbone (kept all session) and by the model's encoder (reset with the model)
        self._vectors: dict[str, dict[str, Any]] = {"backbone": {}, "model": {}}
        self._backbone: str | None = None  # the backbone those come from: --backbone, else by the pool's language

    # --- what the page shows ----------------------------------------------------------------------

    def remaining(self) -> list[str]:
        """The pool's texts neither labelled nor skipped this session, in pool order."""
        done = self.store.texts | self.skipped
        return [t for t in self.pool if t not in done]

    def counts(self) -> dict[str, int]:
        """The header's numbers: ``labelled`` counts the file's answers, so it can hold answers that are no pool
        text's (``outside``: a text not in the pool, e.g. edited by hand; ``twice``: a text answered again); then
        ``pool == labelled - outside - twice + skipped + remaining``, which the page says rather than leave
        numbers that cannot add up."""
        texts = self.store.texts
        return {"labelled": len(self.store.rows), "outside": len(texts - self._in_pool),
                "twice": len(self.store.rows) - len(texts), "skipped": len(self.skipped),
                "remaining": len(self.remaining()), "pool": len(self.pool)}

    def state(self) -> dict[str, Any]:
        """The page's whole view: the text, the model's guess, the counts and the training rounds."""
        with self.lock:
            self._collect_model()
            if len(self.queue) <= self.batch // 4:  # choose ahead, so the page does not wait at the end of a batch
                self.start_choosing()
            text = self.queue[0] if self.queue else None
            counts = self.counts()
            left = counts["remaining"]
            shown = None
            if text is not None:
                shown = {"id": self.item, **item_fields(text), "guess": self._guess(text)}
            return {"version": self.item, "item": shown, "labels": self.store.labels, "multi_label": self.store.multi_label,
                    "pairs": len(self.store.fields) == 2,
                    **counts, "session": self.answered, "done": left == 0, "choosing": self.choosing is not None,
                    "can_undo": bool(self.history),
                    "strategy": self._strategy(), "model": str(self.model_dir) if self.model_dir else None,
                    "error": self.error, "training": self.trainer.status() if self.trainer is not None else None}

    def _guess(self, text: str) -> dict[str, Any] | None:
        if self.model is None:
            return None
        if text not in self._guesses:
            from tasuki_label.pool import probabilities

            self._guesses[text] = probabilities(self.model, [text]).guesses[0]
        label, confidence = self._guesses[text]
        return {"label": label, "confidence": confidence}

    # --- answers ------------------------------------------------------------------------------

    def _current(self, item: Any) -> str:
        if not self.queue:
            raise Conflict("no text is shown: the next texts are being chosen")
        if item != self.item:
            raise Conflict(f"text {item!r} is no longer shown; the page shows text {self.item}")
        return self.queue[0]

    def answer(self, item: Any, label: Any) -> None:
        """Label the shown text: on disk before this returns; then maybe start a training round."""
        with self.lock:
            text = self._current(item)
            self.store.append(text, label)
            self._advance(("label", text))
            if self.trainer is not None:
                self.trainer.after_answer()

    def skip(self, item: Any) -> None:
        """Pass on the shown text for this session."""
        with self.lock:
            text = self._current(item)
            self.skipped.add(text)
            self._advance(("skip", text))

    def _advance(self, action: tuple[str, str]) -> None:
        self.queue.pop(0)
        self.history.append(action)
        self.answered += action[0] == "label"
        self.item += 1

    def undo(self) -> None:
        """Take back the session's last answer or skip and show that text again."""
        with self.lock:
            if not self.history:
                raise Conflict("nothing to undo in this session")
            kind, text = self.history[-1]
            if kind == "label":
                self.store.remove_last(text)
                self.answered -= 1
            else:
                self.skipped.discard(text)
            self.history.pop()
            self.queue.insert(0, text)
            self.item += 1

    # --- choosing the next texts, in the background --------------------------------------------

    def _strategy(self) -> str:
        if self.model is None and self.strategy == "uncertainty":
            return "diverse"  # uncertainty needs a model: diverse until the first round has trained one
        return self.strategy or DEFAULT_STRATEGY

    def start_choosing(self, replace: bool = False) -> None:
        """Choose the next texts in a thread, one choice at a time: after the shown text, ``replace`` the queue
        (a new model came), else add to it (the queue runs low)."""
        if self.choosing is not None:
            self.rechoose = self.rechoose or replace
        elif set(self.remaining()) - set(self.queue if not replace else self.queue[:1]):
            self.choosing = threading.Thread(target=self._choose, args=(replace,), name="tasuki-label-choose",
                                             daemon=True)
            self.choosing.start()

    def _choose(self, replace: bool) -> None:
        try:
            picked = self.choose_now(replace)
        except Exception as exc:  # shown on the page as one line; the page keeps its queue
            with self.lock:
                self.error, self.choosing = f"choosing the next texts failed: {type(exc).__name__}: {exc}", None
            return
        with self.lock:
            done = self.store.texts | self.skipped
            keep = self.queue[:1] if replace else self.queue  # the text on the page always stays
            self.queue = keep + [t for t in picked if t not in done and t not in keep]
            self.choosing, self.error = None, None
            if self.rechoose:
                self.rechoose = False
                self.start_choosing(replace=True)

    def choose_now(self, replace: bool = True) -> list[str]:
        """The next ``batch`` texts by the session's strategy, among the texts not queued (all but the shown
        one when ``replace``); computed without holding the lock."""
        import numpy as np

        from tasuki_label.pool import embedding_backbone, probabilities, sample, vectors, views
        from tasuki_label.selection import select

        with self.lock:
            queued = set(self.queue[:1] if replace else self.queue)
            left = [t for t in self.remaining() if t not in queued]
            labelled = [self.store.key(row) for row in self.store.rows]
            model, strategy, caches = self.model, self._strategy(), self._vectors
            seed = self.seed + len(self.store.rows)
        if strategy != "random" and None in views(strategy, model) and self._backbone is None:
            self._backbone = embedding_backbone(self.pool, self.backbone, self.task)
        left = sample(left, self.candidates, seed)
        scores = probabilities(model, left) if strategy == "uncertainty" else None
        known = None
        if strategy == "random":
            embeddings = np.zeros((len(left), 1))  # never read
        else:  # in one pass (an encoder is loaded once), each text once per encoder: the backbone's serve every round
            needed = left + labelled if strategy == "typical" else left
            every = vectors(needed, strategy, model=model, backbone=self._backbone, caches=caches)
            embeddings, known = every[:len(left)], (every[len(left):] if len(needed) > len(left) else None)
        picks = select(embeddings, self.batch, strategy, seed=seed, labelled=known,
                       **(scores.selection_args() if scores else {}))
        return [left[p.index] for p in picks]

    def _collect_model(self) -> None:
        """Take a round's new model (the trainer says when one is ready) and choose again with it."""
        if self.trainer is None:
            return
        new = self.trainer.poll()
        if new is not None:
            threading.Thread(target=self._load, args=(new,), name="tasuki-label-load", daemon=True).start()

    def _load(self, directory: Path) -> None:
        import tasuki

        try:
            model = tasuki.load(directory, device="cpu")
        except Exception as exc:
            with self.lock:
                self.error = f"cannot load the new model {directory}: {exc}"
            return
        with self.lock:
            self.model, self.model_dir, self._guesses = model, directory, {}
            self._vectors = {"backbone": self._vectors["backbone"], "model": {}}
            self.start_choosing(replace=True)


def check_labels(value: str | Sequence[str], option: str = "--labels") -> list[str]:
    """The label set as a list: ``--labels A,B,C`` (a text, split on commas) or ``--label A --label B`` (names as
    given, so a name may hold a comma); names without surrounding spaces, none empty, none twice."""
    names = [name.strip() for name in (value.split(",") if isinstance(value, str) else value)]
    if len(names) < 2 or any(not name for name in names):
        example = "comma-separated names, e.g. pos,neg" if option == "--labels" else "names, e.g. --label pos --label neg"
        raise DataError(f"{option}: {value!r} is not allowed; allowed: two or more {example}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise DataError(f"{option}: {twice[0]!r} is given twice")
    missing = next((name for name in names if is_missing(name)), None)
    if missing is not None:  # training on the labels file would refuse every answer with it
        raise DataError(f"{option}: {missing!r} is how a missing value is written (pandas, R, spreadsheets), which "
                        f"training refuses as a label; call it otherwise, e.g. 'no_label'")
    return names
