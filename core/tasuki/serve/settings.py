"""The server's settings: each declared once (type, default, allowed range, help) with :mod:`tasuki.settings`.

``tasuki serve`` generates one option per field (``max_wait_ms`` -> ``--max-wait-ms``), and
:func:`tasuki.serve.create_app` takes the same names as keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasuki.settings import build, check, setting

WHAT = "serve setting"


@dataclass
class ServeSettings:
    """Limits and batching knobs of one server process (every model in it shares them)."""

    max_batch_tokens: int = setting(8192, min=1)
    """Token budget of one batch: requests waiting for a model run together until their estimated
    tokens (characters / 4, or / 1.5 for Japanese) would pass it; a larger request runs alone."""
    max_wait_ms: float = setting(2.0, min=0)
    """How long a batch waits for more requests after its first, in milliseconds (0: never waits;
    under load, batches fill up while the previous one runs)."""
    max_queue: int = setting(512, min=1)
    """Requests that may wait for one model; more are refused with 503 and Retry-After."""
    request_timeout_s: float = setting(30.0, min=0, min_open=True)
    """Seconds a request may wait and run before it gets 504."""
    max_body_bytes: int = setting(1_048_576, min=1)
    """Largest request body in bytes (413 beyond)."""
    max_text_chars: int = setting(100_000, min=1)
    """Longest single text (a QA context included) in characters (413 beyond)."""
    max_inputs: int = setting(256, min=1)
    """Most inputs in one request's list (413 beyond)."""
    batch_size: int | None = setting(None, min=1)
    """Forward-pass batch size inside one predict call (default: 8 on a CPU, 32 on a GPU). Texts of
    similar length go together, so on a CPU smaller batches pad less: 16 tweets took 37 ms in batches
    of 8 against 45 ms in one batch (int8 MiniLM, 2 cores; fp32: 98 against 109 ms)."""

    def __post_init__(self) -> None:
        check(self, what=WHAT)

    @classmethod
    def build(cls, **overrides: Any) -> ServeSettings:
        """Settings from keyword overrides; an unknown name or a value out of range is one clear error."""
        return build(cls, overrides, what=WHAT)
