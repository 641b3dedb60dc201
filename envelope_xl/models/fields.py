"""The fields that describe a model: the names users type in a range, MODEL_CONFIG returns
and the preset file uses, with what each means and its value when it is not given."""

from __future__ import annotations

from dataclasses import dataclass

from envelope_xl.checks import Names


@dataclass(frozen=True)
class Field:
    name: str
    meaning: str
    kind: type  # int or bool
    default: int | bool | None  # None: required (or derived, see `Architecture.build`)
    low: int | None = None  # smallest whole number allowed: 1 for required fields, else 0

    def __post_init__(self) -> None:
        if self.low is None:
            object.__setattr__(self, "low", 1 if self.default is None else 0)


FIELDS: tuple[Field, ...] = (
    Field("layers", "transformer blocks", int, None),
    Field("hidden", "model (residual) width", int, None),
    Field("heads", "attention (query) heads", int, None),
    Field("kv_heads", "key/value heads (default: heads; fewer with grouped-query attention)", int, None),
    Field("head_dim", "width of one head (default: hidden / heads; MLA: the value width)", int, None),
    Field("ffn_hidden", "MLP inner width of a dense layer (default: 4 x hidden)", int, None),
    Field("vocab", "vocabulary size", int, None),
    Field("gated_mlp", "TRUE for a gated MLP (SwiGLU, GeGLU: three matrices)", bool, False),
    Field("tied_embeddings", "TRUE when the output head reuses the input embedding", bool, False),
    Field("bias", "TRUE when every linear layer and norm has a bias (GPT-2 style LayerNorm)", bool, False),
    Field("attention_bias", "TRUE when the query, key and value projections have biases (Qwen2)", bool, False),
    Field("output_bias", "TRUE when the attention output projection has a bias", bool, False),
    Field("qk_norm", "TRUE for a norm on each head's queries and keys (Qwen3)", bool, False),
    Field("norms_per_layer", "norms per block (2; Gemma 2 has 4)", int, 2),
    Field("experts", "routed MLP experts per MoE layer (1 = dense)", int, 1, low=1),
    Field("experts_per_token", "routed experts each token uses", int, 1, low=1),
    Field("shared_experts", "experts every token uses besides the routed ones (DeepSeek)", int, 0),
    Field("moe_ffn_hidden", "inner width of one expert (default: ffn_hidden)", int, None),
    Field("dense_layers", "leading layers with a dense MLP instead of experts (DeepSeek)", int, 0),
    Field("router_bias", "TRUE when the router keeps a bias per expert (DeepSeek-V3)", bool, False),
    Field("q_lora_rank", "MLA: rank of the query compression (0: queries not compressed)", int, 0),
    Field("kv_lora_rank", "MLA: rank of the compressed key/value latent (0: not MLA)", int, 0),
    Field("qk_rope_head_dim", "MLA: width of each head's decoupled RoPE part", int, 0),
    Field("qk_nope_head_dim", "MLA: width of each head's query/key part without RoPE", int, 0),
    Field("v_head_dim", "MLA: width of each head's values", int, 0),
    Field("sliding_window", "tokens a windowed layer attends to (0: no window)", int, 0),
    Field("window_layers", "layers that use the sliding window (default: all when there is one)", int, None,
          low=0),
    Field("max_positions", "learned absolute position embeddings (0 for rotary)", int, 0),
    Field("max_context", "longest context the model was trained for, tokens (0: not stated)", int, 0),
)

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

#: Field names as users type them (any case), with "Did you mean" on a miss.
FIELD_NAMES: Names[str] = Names("model field", {f.name: f.name for f in FIELDS}, {})
