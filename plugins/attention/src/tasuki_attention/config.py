"""The scratch encoder's hyper-parameters, as one dataclass (nanoGPT style)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

ACTIVATIONS = ("gelu", "relu")
POSITIONALS = ("learned", "sinusoidal")


@dataclass
class EncoderConfig:
    """Everything that shapes a :class:`~tasuki_attention.encoder.ScratchEncoder`.

    The defaults describe a small BERT-like encoder (post-norm, learned positions, GELU);
    ``norm_first=True`` gives the pre-norm variant, ``positional="sinusoidal"`` the fixed table
    of "Attention is all you need".
    """

    vocab_size: int = 30522
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 1024
    max_positions: int = 512
    type_vocab_size: int = 2
    """Segment (token type) embeddings as in BERT; 0 turns them off."""
    dropout: float = 0.1
    """Dropout on embeddings and on each residual branch (train mode only)."""
    attention_dropout: float = 0.1
    """Dropout on the attention weights (train mode only)."""
    activation: str = "gelu"
    norm_first: bool = False
    """Pre-norm (``x + f(norm(x))``, with a final norm) instead of BERT's post-norm (``norm(x + f(x))``)."""
    positional: str = "learned"
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    fused: bool = True
    """Call ``F.scaled_dot_product_attention`` when no attention weights are asked for."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"EncoderConfig.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden size {self.hidden_size} is not divisible by the number of heads {self.num_heads}: "
                f"choose heads among {[h for h in range(1, self.hidden_size + 1) if self.hidden_size % h == 0][:12]}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.positional not in POSITIONALS:
            raise ValueError(f"positional must be one of {POSITIONALS}, got {self.positional!r}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"EncoderConfig.{name} must be in [0, 1), got {getattr(self, name)!r}")

    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EncoderConfig:
        """Build from a dict, ignoring keys that are not fields (e.g. a full ``config.json``)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
