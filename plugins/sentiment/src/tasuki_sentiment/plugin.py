"""The plugin's registrations: ``sentiment``, a preset of classify's ``classify`` task, and the ``tasuki sentiment``
commands (demo, explore).

``sentiment`` is ``classify`` (single- or multi-label, the few-shot recipe on small data, long texts in windows,
class weights) with sentiment's defaults: the embedded backbones, the small-encoder training recipe, and macro F1
as the main metric whatever the labels' skew. This plugin copies none of classify's code and imports none of it:
the registry builds the preset on whatever ``classify`` is installed (``tasuki-classify``, a dependency).
"""

from __future__ import annotations

from typing import Any

from tasuki.plugin import Preset, hookimpl

SENTIMENT = Preset(
    name="sentiment",
    task="classify",
    description="Sentiment (or any labels read from the data): classify, scored by macro F1 (en, ja)",
    attributes={
        "languages": ("en", "ja"),
        "default_backbones": {"en": "minilm", "ja": "e5-small"},
        # the usual GLUE-style recipe for small encoders; 128 tokens hold nearly every review or tweet
        "training_defaults": {"learning_rate": 5e-5, "batch_size": 32, "max_length": 128},
        # macro F1, not accuracy: on skewed labels (most tweets neutral) accuracy rewards ignoring the rare ones
        "single_label_metric": "f1_macro",
    },
    distribution="tasuki-classify",
)
"""The ``sentiment`` preset."""


@hookimpl
def register_presets(register: Any) -> None:
    """Register :data:`SENTIMENT`."""
    register(SENTIMENT)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``tasuki sentiment demo`` and ``tasuki sentiment explore``."""
    from tasuki_sentiment.cli import sentiment

    cli.add_command(sentiment)
