"""Architecture facts read from a model's shipped config: layers, attention mix, cache bytes per token.

Formulas follow the transformers implementations of Qwen2, Qwen3 and Qwen3.5 (Gated DeltaNet) caches.
For Qwen3.5 only every `full_attention_interval`-th layer keeps a KV cache that grows with context; the
linear-attention layers keep a fixed recurrent state (value heads x key_head_dim x value_head_dim) and a
causal-conv state (conv channels x kernel size) per sequence. The recurrent state is kept in float32 whatever
the model dtype (transformers' torch_*_gated_delta_rule compute and return it in fp32, as do the
flash-linear-attention kernels; the cache stores it as returned); the conv state is in the model dtype.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from gentrend.core.vocab import bytes_per_param
from gentrend.models.catalogue import Model

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@cache
def _load_config(path: Path) -> PretrainedConfig:
    from transformers import AutoConfig  # here, not at the top: `gentrend check` needs no transformers

    return AutoConfig.for_model(**json.loads(Path(path).read_text()))


def text_config(model: Model, tiny: bool = False) -> PretrainedConfig:
    """The language-model config (for multimodal Qwen3.5 checkpoints, their text_config).

    tiny=True gives a few-layer, narrow copy of the same architecture (same layer-type pattern) for fast tests.
    """
    cfg = copy.deepcopy(_load_config(model.config_path).get_text_config())  # callers may mutate it
    return shrink(cfg) if tiny else cfg


def shrink(cfg: PretrainedConfig) -> PretrainedConfig:
    """A tiny config of the same architecture: one period of the layer pattern, narrow widths, small vocab."""
    small = cfg.__class__.from_dict(cfg.to_dict())
    layer_types = getattr(cfg, "layer_types", None)
    period = getattr(cfg, "full_attention_interval", None) or 1
    small.num_hidden_layers = max(2, period)
    if layer_types:
        small.layer_types = list(layer_types[: small.num_hidden_layers])
    small.hidden_size, small.intermediate_size, small.vocab_size = 64, 128, 512
    small.num_attention_heads, small.num_key_value_heads, small.head_dim = 4, 2, 16
    if hasattr(cfg, "linear_num_key_heads"):
        small.linear_num_key_heads, small.linear_num_value_heads = 2, 2
        small.linear_key_head_dim = small.linear_value_head_dim = 16
    return small


@dataclass(frozen=True)
class Architecture:
    """What drives speed and memory, per model. Byte counts are per sequence, at the given cache dtype."""

    layers: int
    full_attention_layers: int
    linear_attention_layers: int
    hidden_size: int
    intermediate_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    tied_embeddings: bool
    max_context: int
    kv_cache_bytes_per_token: float
    linear_state_bytes: float
    linear_conv_dim: int = 0  # Gated DeltaNet conv channels (2 x key_dim + value_dim); 0 without linear layers

    @property
    def attention_mix(self) -> str:
        if not self.linear_attention_layers:
            return f"{self.full_attention_layers} full attention"
        return f"{self.linear_attention_layers} linear (Gated DeltaNet) + {self.full_attention_layers} full attention"

    def as_dict(self) -> dict:
        return asdict(self) | {"attention_mix": self.attention_mix}


RECURRENT_STATE_BYTES = 4  # Gated DeltaNet recurrent state: float32 in transformers 5.x (see module docstring)


def describe(model: Model, cache_dtype: str = "bf16", tiny: bool = False) -> Architecture:
    """Config facts of `model` (tiny=True: of its shrunken test copy, see `shrink`)."""
    cfg = text_config(model, tiny=tiny)
    layer_types = list(getattr(cfg, "layer_types", None) or ["full_attention"] * cfg.num_hidden_layers)
    full = sum(t == "full_attention" for t in layer_types)
    linear = sum(t == "linear_attention" for t in layer_types)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    nbytes = bytes_per_param(cache_dtype)
    kv_per_token = 2 * full * cfg.num_key_value_heads * head_dim * nbytes  # K and V, every full-attention layer
    linear_state, conv_dim = 0.0, 0
    if linear:
        key_dim = cfg.linear_num_key_heads * cfg.linear_key_head_dim
        value_dim = cfg.linear_num_value_heads * cfg.linear_value_head_dim
        recurrent = cfg.linear_num_value_heads * cfg.linear_key_head_dim * cfg.linear_value_head_dim
        conv_dim = 2 * key_dim + value_dim
        conv = conv_dim * cfg.linear_conv_kernel_dim
        linear_state = linear * (recurrent * RECURRENT_STATE_BYTES + conv * nbytes)
    return Architecture(
        layers=cfg.num_hidden_layers,
        full_attention_layers=full,
        linear_attention_layers=linear,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        attention_heads=cfg.num_attention_heads,
        kv_heads=cfg.num_key_value_heads,
        head_dim=head_dim,
        vocab_size=cfg.vocab_size,
        tied_embeddings=bool(getattr(cfg, "tie_word_embeddings", False)),
        max_context=cfg.max_position_embeddings,
        kv_cache_bytes_per_token=kv_per_token,
        linear_state_bytes=linear_state,
        linear_conv_dim=conv_dim,
    )


def architecture_table(models: list[Model], cache_dtype: str = "bf16") -> pd.DataFrame:
    """One row per model: parameter counts (catalogue) and the config facts that drive speed and memory."""
    rows = []
    for m in models:
        a = describe(m, cache_dtype)
        rows.append(
            {
                "model": m.name,
                "params_total": m.params.total,
                "params_non_embedding": m.params.non_embedding,
                "embedding_share": 1 - m.params.non_embedding / m.params.total,
                "layers": a.layers,
                "attention_mix": a.attention_mix,
                "heads (q/kv)": f"{a.attention_heads}/{a.kv_heads}",
                "head_dim": a.head_dim,
                "tied_embeddings": a.tied_embeddings,
                f"kv_cache_KiB_per_token ({cache_dtype})": a.kv_cache_bytes_per_token / 2**10,
                f"linear_state_MiB_per_sequence ({cache_dtype})": a.linear_state_bytes / 2**20,
                "context_length": m.context_length,
                "config": m.config_path.name,
            }
        )
    return pd.DataFrame(rows)
