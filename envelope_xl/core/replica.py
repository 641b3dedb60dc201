"""One serving replica: a model on `tp` GPUs, its memory, a decode step and a prefill.

The physics of serving, shared by DECODE_TPS, TPOT, MAX_BATCH, PREFILL_TIME and
SERVING_PLAN. A step takes the longer of its memory time (bytes read over the bandwidth
real kernels reach) and its compute time (FLOPs over the share of peak they reach), plus
the tensor-parallel all-reduces, which do not overlap either (Williams et al. 2009,
roofline; Pope et al. 2022, 'Efficiently Scaling Transformer Inference', sections 2-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from envelope_xl.checks import fraction, non_negative, positive, whole
from envelope_xl.core import serving_data as data
from envelope_xl.errors import InputError
from envelope_xl.models import PARAM_GROUPS, Architecture, resolve_model
from envelope_xl.reference import GPUS, PRECISIONS, Gpu, Precision
from envelope_xl.sources import brief

#: Positions in `Architecture.param_steps()`; a sub-16-bit format quantizes the decoder
#: blocks' linear layers (attention and MLP), the rest stays in 16 bits.
EMBEDDINGS, HEAD, POSITIONS, ATTENTION, MLP, ROUTER, NORMS = (
    PARAM_GROUPS.index(g) for g in
    ("token embeddings", "output head", "position embeddings", "attention", "MLP", "router", "norms")
)
#: The formats whose KV cache defaults to bf16: integer and weight-only formats.
_BF16 = PRECISIONS.get("precision", "bf16")


def _gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


@dataclass(frozen=True)
class Step:
    """One decode step of a batch, per GPU of the replica (bytes, FLOPs, seconds)."""

    batch: int
    context: int
    weights_read: float
    kv_read: float
    flops: float
    memory_s: float
    compute_s: float
    allreduce_s: float

    @property
    def time_s(self) -> float:
        return max(self.memory_s, self.compute_s) + self.allreduce_s

    @property
    def memory_bound(self) -> bool:
        return self.memory_s >= self.compute_s

    @property
    def bound(self) -> str:
        """Which limit sets the step, and by how much, in words."""
        low, high = sorted((self.memory_s, self.compute_s))
        ratio = f"{high / low:.2g}x" if low > 0 else "only"
        if self.memory_bound:
            return f"memory bandwidth ({ratio} the compute time)"
        return f"compute ({ratio} the memory time)"


@dataclass(frozen=True)
class Prefill:
    """Processing one prompt of `tokens` tokens on the replica (per GPU)."""

    tokens: int
    linear_flops: float
    attention_flops: float
    linear_s: float
    attention_s: float
    weights_s: float  # reading the weights once: the floor for short prompts
    allreduce_s: float

    @property
    def waiting_s(self) -> float:
        """Time spent waiting on weight reads beyond the compute (short prompts)."""
        return max(0.0, self.weights_s - self.linear_s - self.attention_s)

    @property
    def time_s(self) -> float:
        return self.linear_s + self.attention_s + self.waiting_s + self.allreduce_s


@dataclass(frozen=True)
class Replica:
    """A model served on `tp` GPUs of one type, with the efficiencies assumed."""

    arch: Architecture
    gpu: Gpu
    precision: Precision
    kv: Precision
    tp: int
    bandwidth_efficiency: float
    compute_efficiency: float
    link: float  # bytes/s per direction
    allreduce_latency_s: float
    memory_utilization: float
    workspace: float  # bytes per GPU
    options: tuple[tuple[str, object], ...]  # the options as the caller passed them, for the chain
    groups: tuple[float, ...]  # parameters by group (Architecture.param_steps)
    active: float  # active parameters per token

    @cached_property
    def given(self) -> frozenset[str]:
        """The options the caller set to something other than their default."""
        return frozenset(name for name, value in self.options if value is not None and value != _DEFAULTS.get(name))

    # ------------------------------------------------------------------ weights

    @property
    def bytes_per_weight(self) -> tuple[float, float]:
        """(quantized layers, other weights): sub-16-bit formats quantize the blocks'
        linear layers, with their scales; embeddings, head, norms and router stay 16-bit."""
        b = self.precision.bytes
        if b >= 2:
            return b, b
        return b + data.scale_bits(self.precision).value / 8, 2.0

    def weight_bytes(self) -> float:
        """All weights of the replica (every expert of a mixture), bytes."""
        quantized, other = self.bytes_per_weight
        if self.arch.counted_only:
            return self.arch.total_params * quantized
        g = self.groups
        q = g[ATTENTION] + g[MLP]
        return q * quantized + (sum(g) - q) * other

    def experts_touched(self, tokens: float) -> float:
        """Expected routed experts per MoE layer that `tokens` tokens reach, under uniform
        independent routing: E (1 - (1 - k/E)^tokens)."""
        a = self.arch
        if not a.is_moe:
            return 0.0
        return a.experts * (1.0 - (1.0 - a.experts_per_token / a.experts) ** tokens)

    def weights_read(self, tokens: float) -> float:
        """Weight bytes one forward pass over `tokens` tokens reads, all GPUs together:
        every matrix, the routed experts its tokens reach, and only their rows of the
        input embedding (Pope et al. 2022, section 3.1: decode streams the weights)."""
        quantized, other = self.bytes_per_weight
        a = self.arch
        if a.counted_only:
            return a.total_params * quantized
        g = self.groups
        embeddings = g[EMBEDDINGS] if a.tied_embeddings else min(tokens, a.vocab) * a.hidden
        positions = min(tokens, a.max_positions) * a.hidden
        routed = a.moe_layers * a.expert_params
        mlp = g[MLP] - routed * a.experts + routed * self.experts_touched(tokens)
        rest = embeddings + g[HEAD] + positions + g[ROUTER] + g[NORMS]
        return (g[ATTENTION] + mlp) * quantized + rest * other

    # ------------------------------------------------------------------ KV cache and memory

    @property
    def kv_share(self) -> float:
        """Share of a sequence's KV cache each GPU holds. Heads split over tp; when tp does
        not divide the KV heads each GPU holds ceil(kv_heads / tp) of them (replicated, as
        vLLM and TensorRT-LLM do). An MLA latent is not split by heads: every GPU holds it."""
        a = self.arch
        if a.counted_only or a.is_mla:
            return 1.0
        return math.ceil(a.kv_heads / self.tp) / a.kv_heads

    def kv_per_sequence(self, context: float) -> float:
        """KV-cache bytes of one sequence of `context` tokens, per GPU."""
        return self.arch.kv_cache_bytes(context, 1, self.kv.bytes) * self.kv_share

    @property
    def usable(self) -> float:
        """Memory per GPU for weights and KV cache: capacity x utilisation - workspace."""
        return self.gpu.memory * self.memory_utilization - self.workspace

    @property
    def weights_per_gpu(self) -> float:
        return self.weight_bytes() / self.tp

    def max_batch(self, context: float) -> int:
        """The largest whole number of sequences of `context` tokens that fits (0 if none)."""
        room = self.usable - self.weights_per_gpu
        per = self.kv_per_sequence(context)
        if room < 0:
            return 0
        return math.floor(room / per * (1 + 1e-12)) if per > 0 else 10**15

    def check_fits(self, batch: int, context: float) -> None:
        """Refuse a batch whose weights and KV cache exceed the usable memory."""
        kv = batch * self.kv_per_sequence(context)
        need = self.weights_per_gpu + kv
        if need <= self.usable * (1 + 1e-12):
            return
        offer = (
            f"{self.gpu.name} offers {_gb(self.usable)} per GPU ({self.gpu.memory / 1e9:g} GB x memory_utilization "
            f"{self.memory_utilization:g} - {_gb(self.workspace)} engine workspace)"
        )
        if self.weights_per_gpu > self.usable:
            raise InputError(
                "tp", self.tp,
                f"expected enough GPUs for the weights: {self.arch.name} in {self.precision.name} needs "
                f"{_gb(self.weights_per_gpu)} of weights per GPU at tp {self.tp}, and {offer}; the largest batch "
                "that fits is 0",
                self._more_gpus_hint(batch, context),
            )
        largest = self.max_batch(context)
        raise InputError(
            "batch", batch,
            f"expected a batch that fits in memory: {batch:,} sequences of {context:,} tokens need {_gb(need)} per GPU "
            f"(weights {_gb(self.weights_per_gpu)} + KV cache {_gb(kv)}), and {offer}; the largest batch that fits is "
            f"{largest:,}",
        )

    def _more_gpus_hint(self, batch: int, context: float) -> str:
        if self.arch.counted_only:  # tensor parallelism needs the architecture
            return "Give the model's architecture to split it over GPUs (tp), or choose a smaller precision"
        for tp in range(self.tp + 1, 129):
            if self.arch.heads % tp == 0:
                wider = _with_tp(self, tp)
                if wider.weights_per_gpu + batch * wider.kv_per_sequence(context) <= wider.usable:
                    return f"tp {tp} fits this batch; a smaller precision (fp8, int4) also helps"
        return "Choose a smaller precision (fp8, int4) or a GPU with more memory"

    # ------------------------------------------------------------------ time

    @property
    def peak(self) -> float:
        return self.gpu.peak_flops(self.precision)

    @property
    def bandwidth(self) -> float:
        """Bandwidth reached per GPU, bytes/s."""
        return self.gpu.bandwidth * self.bandwidth_efficiency

    def allreduce(self, tokens: float) -> float:
        """Seconds of the all-reduces of one forward pass over `tokens` tokens: two per
        layer (after attention and after the MLP, Shoeybi et al. 2019, section 3), each a
        fixed latency plus a ring's 2 (tp - 1) / tp of the activations over the link."""
        if self.tp == 1:
            return 0.0
        a = self.arch
        message = tokens * a.hidden * data.ACTIVATION_BYTES
        return 2 * a.layers * (self.allreduce_latency_s + 2 * (self.tp - 1) / self.tp * message / self.link)

    def step(self, batch: int, context: float, prefill_tokens: float = 0.0, prefill_flops: float = 0.0,
             mfu: float = 1.0) -> Step:
        """One decode step for `batch` sequences of `context` cached tokens; a serving plan
        adds the prompt tokens that chunked prefill mixes into the same step."""
        a = self.arch
        weights = self.weights_read(batch + prefill_tokens) / self.tp
        kv = batch * self.kv_per_sequence(context)
        flops = batch * (2.0 * self.active + a.attention_flops_per_token(context)) / self.tp
        compute = flops / (self.peak * self.compute_efficiency)
        compute += prefill_flops / self.tp / (self.peak * mfu)
        return Step(
            batch=batch, context=int(context), weights_read=weights, kv_read=kv, flops=flops,
            memory_s=(weights + kv) / self.bandwidth, compute_s=compute,
            allreduce_s=self.allreduce(batch + prefill_tokens),
        )

    def attention_prefill_flops(self, tokens: float) -> float:
        """Attention FLOPs of a causal prompt: token i attends to i tokens (itself and those
        before), so the masked half is skipped as FlashAttention does (Dao 2023, section 3)."""
        a = self.arch
        if a.counted_only or a.layers == 0:
            return 0.0
        n = tokens
        w = a.sliding_window
        windowed = 0.0
        if a.window_layers:
            windowed = n * (n + 1) / 2 if n <= w else w * (w + 1) / 2 + (n - w) * w
        pairs = (a.layers - a.window_layers) * n * (n + 1) / 2 + a.window_layers * windowed
        return a.attention_flops_per_token(1) / a.cached_tokens(1) * pairs

    def prefill(self, tokens: int, mfu: float) -> Prefill:
        """One prompt of `tokens` tokens, alone on the replica."""
        linear = 2.0 * self.active * tokens
        attention = self.attention_prefill_flops(tokens)
        rate = self.tp * self.peak * mfu
        return Prefill(
            tokens=tokens, linear_flops=linear, attention_flops=attention,
            linear_s=linear / rate, attention_s=attention / rate,
            weights_s=self.weights_read(tokens) / self.tp / self.bandwidth,
            allreduce_s=self.allreduce(tokens),
        )

    # ------------------------------------------------------------------ the chain

    def notes(self) -> list[str]:
        """What this replica assumes, for the reasoning chain: each default with its source."""

        def how(name: str) -> str:
            return "given" if name in self.given else "default"

        out = []
        quantized, other = self.bytes_per_weight
        if self.arch.counted_only:
            out.append(
                f"only a parameter count: all {self.arch.total_params:,.0f} weights are read each step at "
                f"{quantized:g} bytes, as a dense model; no KV cache or attention FLOPs can be counted"
            )
        elif quantized != other:
            scale = data.scale_bits(self.precision)
            scales = f" + {scale.value:g} bits of scales ({scale.cite()})" if scale.value else ""
            out.append(
                f"{self.precision.name} weights: {self.precision.bytes:g} bytes{scales} per weight of the blocks' "
                f"linear layers; embeddings, output head and norms stay in bf16 ({brief(data.QUANTIZED_LAYERS_SOURCE)})"
            )
        kv_how = "given" if "kv_precision" in self.given else (
            "default: the weights' float format" if self.kv is self.precision
            else "default: integer and weight-only formats keep a bf16 cache")
        out.append(f"KV cache in {self.kv.name}, {self.kv.bytes:g} bytes per value ({kv_how})")
        a = self.arch
        if a.is_moe:
            out.append(
                f"mixture of experts: a step reads the experts its tokens route to, {a.experts_per_token} of "
                f"{a.experts} per token, routing uniform and independent (load-balanced, Fedus et al. 2022, "
                "section 2.2); compute uses the active parameters"
            )
        if self.tp > 1:
            if a.is_mla:
                out.append(f"tp {self.tp}: weights split over the GPUs; the MLA latent cache is whole on each GPU")
            elif a.kv_heads % self.tp:
                out.append(
                    f"tp {self.tp} does not divide the {a.kv_heads} KV heads: each GPU holds "
                    f"{math.ceil(a.kv_heads / self.tp)} (replicated, as vLLM and TensorRT-LLM do)"
                )
            else:
                out.append(f"tp {self.tp}: weights and KV heads split evenly over the GPUs")
            link = data.link_gbs(self.gpu)
            link_src = ("given" if "link_gbs" in self.given or link is None
                        else f"default: {self.gpu.name}'s {self.gpu.intra_link}, {link.cite()}")
            lat_src = "given" if "allreduce_us" in self.given else f"default: {data.ALLREDUCE_US.cite()}"
            out.append(
                f"all-reduces over a {self.link / 1e9:g} GB/s link ({link_src}), "
                f"{self.allreduce_latency_s * 1e6:g} us each ({lat_src})"
            )
        out.append(
            f"bandwidth_efficiency {self.bandwidth_efficiency:g} ({how('bandwidth_efficiency')}"
            f"{'' if 'bandwidth_efficiency' in self.given else ': ' + data.BANDWIDTH_EFFICIENCY.cite()})"
        )
        out.append(
            f"compute_efficiency {self.compute_efficiency:g} of the dense {self.precision.peak_field} peak "
            f"({how('compute_efficiency')}"
            f"{'' if 'compute_efficiency' in self.given else ': ' + data.compute_efficiency(self.precision).cite()})"
        )
        util = "" if "memory_utilization" in self.given else f": {data.MEMORY_UTILIZATION.cite()}"
        ws = "" if "workspace_gb" in self.given else f": {data.WORKSPACE_GB.cite()}"
        out.append(
            f"usable memory per GPU = {self.gpu.memory / 1e9:g} GB x memory_utilization {self.memory_utilization:g} "
            f"({how('memory_utilization')}{util}) - workspace {self.workspace / 1e9:g} GB ({how('workspace_gb')}{ws})"
        )
        return out


def _with_tp(r: Replica, tp: int) -> Replica:
    from dataclasses import replace

    return replace(r, tp=tp)


#: Options whose defaults are plain numbers: a value equal to one is not "given".
_DEFAULTS = {
    "bandwidth_efficiency": data.BANDWIDTH_EFFICIENCY.value, "memory_utilization": data.MEMORY_UTILIZATION.value,
    "workspace_gb": data.WORKSPACE_GB.value, "allreduce_us": data.ALLREDUCE_US.value,
}


def replica(
    model: object,
    gpu: object = "H100-SXM",
    precision: object = "bf16",
    *,
    kv_precision: object = None,
    tp: object = 1,
    bandwidth_efficiency: object = None,
    compute_efficiency: object = None,
    link_gbs: object = None,
    memory_utilization: object = None,
    workspace_gb: object = None,
    allreduce_us: object = None,
) -> Replica:
    """A checked `Replica` from spreadsheet arguments: None takes the data file's default."""
    arch = resolve_model("model", model)
    g = GPUS.get("gpu", gpu)
    p = PRECISIONS.get("precision", precision)
    g.peak_flops(p)  # a GPU without a peak for the precision is refused here
    kv = (p if p.trainable else _BF16) if kv_precision is None else PRECISIONS.get("kv_precision", kv_precision)
    t = whole("tp", tp)
    if t > 1:
        arch.need("model", "tensor parallelism (its all-reduces need the layers and hidden width)")
        if arch.heads % t:
            raise InputError("tp", tp, f"expected a divisor of the model's {arch.heads} attention heads "
                             "(serving engines split the heads evenly)")
    return Replica(
        arch=arch, gpu=g, precision=p, kv=kv, tp=t,
        bandwidth_efficiency=(data.BANDWIDTH_EFFICIENCY.value if bandwidth_efficiency is None
                              else fraction("bandwidth_efficiency", bandwidth_efficiency)),
        compute_efficiency=(data.compute_efficiency(p).value if compute_efficiency is None
                            else fraction("compute_efficiency", compute_efficiency)),
        link=_link(g, link_gbs, t) * 1e9,
        allreduce_latency_s=(data.ALLREDUCE_US.value if allreduce_us is None
                             else non_negative("allreduce_us", allreduce_us)) * 1e-6,
        memory_utilization=(data.MEMORY_UTILIZATION.value if memory_utilization is None
                            else fraction("memory_utilization", memory_utilization)),
        workspace=(data.WORKSPACE_GB.value if workspace_gb is None
                   else non_negative("workspace_gb", workspace_gb)) * 1e9,
        options=(
            ("kv_precision", kv_precision), ("bandwidth_efficiency", bandwidth_efficiency),
            ("compute_efficiency", compute_efficiency), ("link_gbs", link_gbs),
            ("memory_utilization", memory_utilization), ("workspace_gb", workspace_gb), ("allreduce_us", allreduce_us),
        ),
        **_shape(arch),
    )


#: Parameter groups and active count per architecture. Keyed by identity (hashing an
#: Architecture costs more than the whole decode step), holding the architecture so its id
#: cannot be reused; bounded, as a spreadsheet passes new mappings and ranges on each call.
_SHAPES: dict[int, tuple[Architecture, dict[str, object]]] = {}


def _shape(arch: Architecture) -> dict[str, object]:
    held = _SHAPES.get(id(arch))
    if held is not None and held[0] is arch:
        return held[1]
    shape = {"groups": () if arch.counted_only else arch.param_steps(), "active": arch.active_params}
    if len(_SHAPES) >= 256:
        _SHAPES.clear()
    _SHAPES[id(arch)] = (arch, shape)
    return shape


def _link(gpu: Gpu, link_gbs: object, tp: int) -> float:
    """GB/s of the link the all-reduces cross: given, or the GPU's intra-node link."""
    if link_gbs is not None:
        return positive("link_gbs", link_gbs)
    default = data.link_gbs(gpu)
    if default is None:
        if tp > 1:
            raise InputError("link_gbs", None, f"expected the bandwidth between {gpu.name}s, GB/s: gpus.toml gives "
                             "it no intra-node link")
        return 0.0  # one GPU: nothing crosses a link
    return default.value


def context_arg(r: Replica, context: object, low: int = 0) -> int:
    """A checked `context`: whole, and only 0 for a bare parameter count."""
    c = whole("context", context, low)
    if c > 0:
        r.arch.need("model", "a context of cached tokens (the KV cache's shape)")
    return c


def context_note(r: Replica, tokens: int, what: str = "context") -> list[str]:
    """A visible note when `tokens` exceeds what the model was trained for (allowed: the
    estimate still counts every cached token; quality is not assured)."""
    limit = r.arch.max_context
    if limit and tokens > limit:
        return [f"{what} {tokens:,} tokens is beyond the {limit:,} the model was trained for: the estimate counts "
                "the whole cache, but the model may not work at this length without context extension"]
    return []
