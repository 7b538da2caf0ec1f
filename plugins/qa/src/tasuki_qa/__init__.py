"""tasuki-qa: extractive question answering for tasuki (English and Japanese).

Registers the task ``qa``: SQuAD v1.1/v2.0 data, overflowing windows over long
contexts, n-best span search across windows, a tunable no-answer threshold, and SQuAD
exact match / F1 (character-level F1 for Japanese).
"""

from __future__ import annotations

from tasuki_qa.task import QATask

__all__ = ["QATask"]
