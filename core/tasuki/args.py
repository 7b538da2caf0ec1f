"""Training arguments: every setting of a run, declared once.

Each field has its type, default, allowed range and a docstring; the ``train`` command's
options are generated from these fields (:mod:`tasuki.cli.options`), so a new field cannot
be forgotten by the CLI, and a bad value is refused before anything is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from tasuki.settings import build, check, setting

WHAT = "training argument"


@dataclass
class TrainingArgs:
    """Hyper-parameters and run options. Defaults suit fine-tuning a pretrained encoder."""

    output_dir: str = "tasuki-model"
    """Directory for the trained model."""
    epochs: int | None = setting(None, min=1)
    """Passes over the training data (default: 3 on large data, more on small, for at least --min-steps steps, at most 20)."""
    min_steps: int = setting(500, min=0)
    """With the default epochs: train for at least this many optimizer steps (within 3 to 20 epochs)."""
    max_steps: int | None = setting(None, min=1)
    """Stop after this many optimizer steps, whatever the number of processes (overrides --epochs)."""
    learning_rate: float = setting(5e-5, min=0, min_open=True, max=1)
    """Peak learning rate of AdamW (linear warm-up, then linear decay to 0)."""
    batch_size: int = setting(32, min=1)
    """Examples per batch on each process."""
    eval_batch_size: int | None = setting(None, min=1)
    """Examples per evaluation batch (default: twice --batch-size)."""
    gradient_accumulation_steps: int = setting(1, min=1)
    """Batches whose gradients are summed into one optimizer step."""
    max_length: int | None = setting(None, min=8)
    """Tokens per feature; longer texts are truncated or windowed (default: the task's, capped by the backbone's)."""
    weight_decay: float = setting(0.01, min=0)
    """AdamW weight decay (not applied to biases and norms)."""
    warmup_ratio: float = setting(0.06, min=0, max=1, max_open=True)
    """Fraction of the optimizer steps spent warming the learning rate up."""
    max_grad_norm: float = setting(1.0, min=0)
    """Clip the gradient norm to this (0: no clipping)."""
    seed: int = setting(42, min=0, max=2**32 - 1)
    """Seed for shuffling, the held-out split, dropout and head initialisation."""
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = "auto"
    """'auto' is bf16 on GPUs that support it, else 'no'; 'bf16' also runs on CPUs; 'fp16' needs a GPU."""
    group_by_length: bool = True
    """Batch texts of similar length together (less padding)."""
    save_steps: int = setting(500, min=0)
    """Checkpoint every N optimizer steps (0: only at the end of each epoch)."""
    save_total_limit: int = setting(2, min=0)
    """Checkpoints to keep while training (0: all)."""
    checkpoints: bool = True
    """Write checkpoints (what --resume needs); off for throw-away runs."""
    keep_checkpoints: bool = False
    """Keep the checkpoints after a successful run (by default they are deleted: the model directory ships without them)."""
    logging_steps: int = setting(50, min=1)
    """Log the training loss every N optimizer steps."""
    eval_split: float = setting(0.1, min=0, max=1, max_open=True)
    """Fraction of the training data held out for evaluation when no --eval-data is given (0: none)."""
    early_stopping_patience: int | None = setting(None, min=0)
    """Stop when the main metric has not improved for this many evaluations (0: never stop early;
    default: 2 when the epochs are chosen automatically and the best weights are kept, else never)."""
    keep_weights: Literal["best", "last"] | None = None
    """The weights the model keeps: the best evaluation's or the last (default: best, or last when the evaluation set
    has under 50 examples, too few to choose between models)."""
    report_to: Literal["none", "tensorboard", "wandb"] = "none"
    """Tracker for losses and metrics ('wandb' runs offline unless WANDB_MODE says otherwise)."""
    resume: bool = False
    """Continue the interrupted run in --output from its newest checkpoint (same arguments and data)."""
    overwrite: bool = False
    """Replace the model, plots and checkpoints of an earlier run in --output (the model stays until the new one is saved)."""
    streaming: bool | None = None
    """Tokenize the training data while training runs, a shuffle buffer at a time, instead of all of it first
    (default: on above 1 GiB of training data)."""
    num_proc: int | None = setting(None, min=1)
    """Processes for tokenization (default: 1)."""
    cpu: bool = False
    """Train on the CPU even if a GPU is present."""
    torch_compile: bool = setting(False, flag="compile")
    """torch.compile the model."""
    freeze_embeddings: bool = False
    """Keep the input word-embedding matrix fixed (fast on huge multilingual vocabularies)."""
    progress: bool = True
    """Show progress bars."""

    def __post_init__(self) -> None:
        check(self, what=WHAT)

    @classmethod
    def build(cls, defaults: dict[str, Any] | None = None, **given: Any) -> TrainingArgs:
        """Class defaults, then the task's ``training_defaults``, then every value the user gave.

        A value is given when it is not ``None``: ``0`` and ``False`` reach the run. Unknown names
        and values outside a field's range raise :class:`~tasuki.settings.SettingError`.
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in (defaults or {}).items() if k in known}
        # an unknown name stays in, even as None, so that build refuses it
        values.update({k: v for k, v in given.items() if v is not None or k not in known})
        return build(cls, values, what=WHAT)
