"""The model of a plan sheet: a preset, or a custom model described in a range on the sheet.

The "Model" input names a preset or `custom`. A preset's figures are read from the
"Model figures" sheet, where the core computed them from its architecture (MLA, sliding
windows, shared experts and all). For `custom`, the rows under the input are the range
form of the model argument: field names in column C, values in column D (defined name
`custom_model`), so `=MODEL_PARAMS(custom_model)` reads the same model, and each figure
is a native formula over them: the arithmetic of `Architecture.param_steps` for a decoder
with grouped-query attention and a plain or gated MLP, dense or a mixture of experts
(every field the range leaves out takes its default, as `Architecture.build` does).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openpyxl.utils import get_column_letter
from openpyxl.workbook import Workbook

from envelope_xl.models import PARAM_GROUPS, PRESETS, Architecture
from envelope_xl.models.fields import FIELD_BY_NAME, FIELDS
from envelope_xl.templates import reference_tables as ref
from envelope_xl.templates import style
from envelope_xl.templates.style import PlanSheet, Rule, choice, whole_between

CUSTOM = ref.CUSTOM_MODEL
IS_CUSTOM = f'in_model="{CUSTOM}"'
_IS_PRESET = f'in_model<>"{CUSTOM}"'

#: The custom model's fields and their defaults: Llama 3 8B's shape, so "custom" starts from a
#: real model (8,030,261,248 parameters, as the preset).
CUSTOM_DEFAULTS: dict[str, int | bool] = {
    "layers": 32, "hidden": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128, "ffn_hidden": 14336,
    "vocab": 128256, "gated_mlp": True, "tied_embeddings": False, "experts": 1, "experts_per_token": 1,
}
#: The custom inputs' defaults as a plan's DEFAULTS holds them (input names without "in_").
INPUT_DEFAULTS = {f"cm_{field}": value for field, value in CUSTOM_DEFAULTS.items()}
#: Label of each custom input, and the largest value its validation allows.
_LABELS = {
    "layers": ("Custom: layers", 1000), "hidden": ("Custom: hidden width", 1_000_000),
    "heads": ("Custom: attention heads", 10_000), "kv_heads": ("Custom: KV heads", 10_000),
    "head_dim": ("Custom: head width", 100_000), "ffn_hidden": ("Custom: MLP width", 10_000_000),
    "vocab": ("Custom: vocabulary", 10_000_000), "gated_mlp": ("Custom: gated MLP?", 0),
    "tied_embeddings": ("Custom: tied embeddings?", 0), "experts": ("Custom: experts", 10_000),
    "experts_per_token": ("Custom: experts per token", 10_000),
}
#: TRUE and FALSE as both programs show them: Excel shows its logical values whatever the
#: format; LibreOffice's are numbers, which this format spells out.
BOOLEAN_FORMAT = '"TRUE";"TRUE";"FALSE"'
TRUE_OR_FALSE = Rule("custom", "TRUE or FALSE", "ISLOGICAL({cell})", "ISLOGICAL({cell})")


def _cm(field: str) -> str:
    return f"in_cm_{field}"


# The custom model's figures, each a formula over its inputs (the arithmetic of Architecture).
_MOE = f"{_cm('experts')}>1"
_MLP = f"IF({_cm('gated_mlp')},3,2)*{_cm('hidden')}*{_cm('ffn_hidden')}"  # one MLP or expert, one layer
_GROUPS = {  # in the order of PARAM_GROUPS
    "p_embeddings": f"{_cm('vocab')}*{_cm('hidden')}",
    "p_head": f"IF({_cm('tied_embeddings')},0,{_cm('vocab')}*{_cm('hidden')})",
    "p_positions": "0",
    "p_attention": f"{_cm('layers')}*2*{_cm('hidden')}*({_cm('heads')}+{_cm('kv_heads')})*{_cm('head_dim')}",
    "p_mlp": f"{_cm('layers')}*{_cm('experts')}*{_MLP}",
    "p_router": f"IF({_MOE},{_cm('layers')}*{_cm('hidden')}*{_cm('experts')},0)",
    "p_norms": f"(2*{_cm('layers')}+1)*{_cm('hidden')}",
}
_TOTAL = "+".join(_GROUPS.values())
_EXPERT = f"IF({_MOE},{_MLP},0)"
_CUSTOM_FORMULAS: dict[str, str] = {
    **{f.name: (_cm(f.name) if f.name in CUSTOM_DEFAULTS else str(f.default).upper())
       for f in FIELDS if f.default is not None},
    **{f: _cm(f) for f in CUSTOM_DEFAULTS},
    "moe_ffn_hidden": _cm("ffn_hidden"),
    "window_layers": "0",
    **_GROUPS,
    "params": _TOTAL,
    "active_params": f"{_TOTAL}-({_cm('experts')}-{_cm('experts_per_token')})*IF({_MOE},{_cm('layers')},0)*{_EXPERT}",
    "moe_layers": f"IF({_MOE},{_cm('layers')},0)",
    "expert_params": _EXPERT,
    "is_mla": "FALSE",
    "is_moe": _MOE,
    "kv_values_layer": f"2*{_cm('kv_heads')}*{_cm('head_dim')}",
    "qk_width": _cm("head_dim"),
    "v_width": _cm("head_dim"),
}


@dataclass(frozen=True)
class Figure:
    label: str
    unit: str
    meaning: str
    of: Callable[[Architecture], float | int | bool]


#: How each field reads as a plan row: label and unit.
_FIELD_ROWS = {
    "layers": ("Layers", "layers"), "hidden": ("Hidden width", ""), "heads": ("Attention heads", "heads"),
    "kv_heads": ("KV heads", "heads"), "head_dim": ("Head width", ""), "ffn_hidden": ("MLP width", ""),
    "vocab": ("Vocabulary", "tokens"), "gated_mlp": ("Gated MLP?", ""), "tied_embeddings": ("Tied embeddings?", ""),
    "bias": ("Biases everywhere?", ""), "attention_bias": ("Query/key/value biases?", ""),
    "output_bias": ("Output projection bias?", ""), "qk_norm": ("Query/key norms?", ""),
    "norms_per_layer": ("Norms per layer", "norms"), "experts": ("Experts per layer", "experts"),
    "experts_per_token": ("Experts per token", "experts"), "shared_experts": ("Shared experts", "experts"),
    "moe_ffn_hidden": ("Expert MLP width", ""), "dense_layers": ("Dense layers before the experts", "layers"),
    "router_bias": ("Router bias?", ""), "q_lora_rank": ("MLA query rank", ""), "kv_lora_rank": ("MLA latent rank", ""),
    "qk_rope_head_dim": ("MLA RoPE key width", ""), "qk_nope_head_dim": ("MLA query/key width without RoPE", ""),
    "v_head_dim": ("MLA value width", ""), "sliding_window": ("Sliding window", "tokens"),
    "window_layers": ("Layers with the window", "layers"), "max_positions": ("Learned positions", "tokens"),
    "max_context": ("Trained context", "tokens"),
}


def _field(name: str) -> Figure:
    label, unit = _FIELD_ROWS[name]
    return Figure(label, unit, FIELD_BY_NAME[name].meaning, lambda a: getattr(a, name))


def _group(index: int) -> Figure:
    group = PARAM_GROUPS[index]
    return Figure(f"Parameters: {group}", "parameters", f"parameters of the {group}, all layers",
                  lambda a: a.param_steps()[index])


#: Every figure a plan may ask for, by name: the fields, completed, then what follows from them.
FIGURES: dict[str, Figure] = {
    **{f.name: _field(f.name) for f in FIELDS},
    "params": Figure("Parameters (total)", "parameters", "every weight, all experts of a mixture: sets the memory",
                     lambda a: a.total_params),
    "active_params": Figure("Active parameters per token", "parameters",
                            "the routed experts' MLPs replace all experts' MLPs: sets the compute",
                            lambda a: a.active_params),
    "moe_layers": Figure("Layers with experts", "layers", "layers whose MLP is a mixture of experts",
                         lambda a: a.moe_layers),
    "expert_params": Figure("One expert, one layer", "parameters", "one routed expert's MLP in one layer",
                            lambda a: a.expert_params),
    "is_mla": Figure("Latent attention (MLA)?", "", "multi-head latent attention: the cache holds a latent",
                     lambda a: a.is_mla),
    "is_moe": Figure("Mixture of experts?", "", "more than one routed expert per layer", lambda a: a.is_moe),
    "kv_values_layer": Figure("KV values per token and layer", "values",
                              "2 x KV heads x head width; MLA: the latent and the RoPE key",
                              lambda a: a.kv_values_per_layer()),
    "qk_width": Figure("Query/key width per head", "", "width a score is computed over",
                       lambda a: a.attention_width()[0]),
    "v_width": Figure("Value width per head", "", "width of the values a head sums", lambda a: a.attention_width()[1]),
    **{name: _group(i) for i, name in enumerate(_GROUPS)},
}
_BOOLEANS = {f.name for f in FIELDS if f.kind is bool} | {"is_mla", "is_moe"}
# IFERROR: the condition sits beside the input checks in one AND, so it must be FALSE, not #DIV/0!,
# while KV heads is empty.
_CONSISTENT = (f"IF({_IS_PRESET},TRUE,IFERROR(AND(MOD({_cm('heads')},{_cm('kv_heads')})=0,"
               f"{_cm('experts_per_token')}<={_cm('experts')}),FALSE))")


def inputs(s: PlanSheet, default: str) -> None:
    """The Model input (`in_model`) and the custom model's range (`custom_model`, inputs `in_cm_<field>`)."""
    s.input("model", "Model", default, "",
            "a preset (its architecture on the Models sheet) or 'custom': the field/value range below",
            choice("list_models", "a model preset or custom"), style.TEXT)
    first = s.row
    for field, value in CUSTOM_DEFAULTS.items():
        f = FIELD_BY_NAME[field]
        label, upper = _LABELS[field]
        rule = TRUE_OR_FALSE if f.kind is bool else whole_between(1, upper)
        # The field name sits in the words column, beside its value: C:D is the range.
        s.input(f"cm_{field}", label, value, "", field, rule,
                "General" if f.kind is bool else style.COUNT, unused_when=_IS_PRESET)  # LibreOffice: a logical
        # value is a number in a boolean format, so "@" would make ISLOGICAL false
    area = f"{get_column_letter(style.WORDS)}{first}:{get_column_letter(style.VALUE)}{s.row - 1}"
    style.define(s.wb, "custom_model", s.ws, area)


def figures(s: PlanSheet, names: Sequence[str]) -> None:
    """One step per figure, named `out_<figure>`: the preset's, or the custom range's."""
    for name in names:
        f = FIGURES[name]
        lookup = f'INDEX(fig_table,MATCH("{name}",fig_names,0),MATCH(in_model,fig_models,0))'
        custom = _CUSTOM_FORMULAS[name]
        words = "preset: Model figures sheet; custom: " + (
            "the range" if custom == _cm(name) else "computed from the range" if "in_cm_" in custom
            else f"{custom} (the field's default)")
        s.step(name, f.label, words, f"IF({IS_CUSTOM},{_CUSTOM_FORMULAS[name]},{lookup})", f.unit, f.meaning,
               BOOLEAN_FORMAT if name in _BOOLEANS else style.COUNT, when=_CONSISTENT,
               key=name in ("params", "active_params"))


def checks(s: PlanSheet) -> None:
    """The custom model's consistency, which no single cell's validation can see."""
    s.check("check_custom_model", "Custom model consistent?",
            "KV heads divide the heads; experts per token at most the experts",
            f'IF({_IS_PRESET},"OK",IF(MOD({_cm("heads")},{_cm("kv_heads")})<>0,"KV heads ("&{_cm("kv_heads")}&'
            f'") must divide the heads ("&{_cm("heads")}&")",IF({_cm("experts_per_token")}>{_cm("experts")},'
            f'"experts per token ("&{_cm("experts_per_token")}&") must be at most the experts ("&{_cm("experts")}'
            f'&")","OK")))')


def add_figures_sheet(wb: Workbook) -> None:
    """The "Model figures" reference sheet: every figure of every preset, computed by the core."""
    ws = ref._sheet(wb, "Model figures", "Model figures: what the plans read from each preset",
                       "Computed by envelope-xl from each preset's architecture (envelope_xl/data/models.toml): "
                       "fields completed with their defaults, parameter groups as MODEL_PARAMS counts them.")
    archs = [PRESETS.get("model", name) for name in PRESETS]
    headers = ("figure", "meaning", *PRESETS)
    rows = [(name, f.meaning, *(f.of(a) for a in archs)) for name, f in FIGURES.items()]
    widths = (18, 44, *(max(12, len(n) + 2) for n in PRESETS))
    first = ref._table(ws, headers, rows, widths, formats={c: style.COUNT for c in range(3, 3 + len(archs))})
    last = get_column_letter(2 + len(archs))
    style.define(wb, "fig_names", ws, f"A{first}:A{first + len(rows) - 1}")
    style.define(wb, "fig_models", ws, f"C{first - 1}:{last}{first - 1}")
    style.define(wb, "fig_table", ws, f"C{first}:{last}{first + len(rows) - 1}")


# For tests: the model argument the core gets for a plan's inputs, and random custom models.

def core_model(values: dict[str, object]) -> object:
    """The model a plan's inputs describe, as the core takes it: a preset's name, or the
    custom range's rows (field, value), exactly as `custom_model` holds them."""
    if values["model"] != CUSTOM:
        return values["model"]
    return [(field, values[f"cm_{field}"]) for field in CUSTOM_DEFAULTS]


def random_custom(rng: random.Random) -> dict[str, int | bool]:
    """A random consistent custom model, as plan inputs (`cm_<field>`)."""
    heads = rng.choice([1, 8, 12, 16, 32, 40, 64, 96, 128])
    experts = rng.choice([1, 1, 8, 16, 64, 128])
    values = {
        "layers": rng.randint(1, 160), "hidden": rng.randint(64, 32768), "heads": heads,
        "kv_heads": rng.choice([d for d in range(1, heads + 1) if heads % d == 0]),
        "head_dim": rng.choice([32, 64, 80, 96, 128, 256]), "ffn_hidden": rng.randint(64, 131072),
        "vocab": rng.randint(256, 262144), "gated_mlp": rng.random() < 0.7, "tied_embeddings": rng.random() < 0.3,
        "experts": experts, "experts_per_token": rng.randint(1, min(experts, 8)),
    }
    return {f"cm_{k}": v for k, v in values.items()}
