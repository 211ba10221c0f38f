"""Rollouts from a static KV cache, one decode step per token replayed as a CUDA graph.

    rollout.backend: static           # StaticCacheWorker: the decode step captured once, replayed per token
    rollout.backend: static_compile   # CompiledStepWorker: the same step through torch.compile(mode="reduce-overhead")

Why: a decoding step of a 0.5B model over 128 sequences is launch-bound on a GPU. ``generate``
runs the model's ~15 kernels per layer from Python each step (and re-builds masks, pads its
cache by concatenation, runs logits processors), about 50x the time the weights take to read.
Here the cache is preallocated (transformers' ``StaticCache``: fixed addresses, written in
place), the attention mask and positions live in fixed buffers too, so the whole forward of
one token is one static-shape function of fixed tensors: captured once as a CUDA graph, each
later token is one ``replay()``. Sampling (a few kernels) stays outside the graph, and nothing waits for
the GPU between tokens except a check every ``STOP_CHECK_EVERY`` steps that all rows have stopped.

What stays the same as the "hf" backend (``RolloutWorker``): prompts are rendered and
tokenized, and groups built, by ``RolloutWorker.generate``; only ``_sample`` is replaced.
The distribution is the policy's: logits / temperature, then nucleus truncation at
``rollout.top_p`` (1.0 keeps every token), drawn as ``torch.multinomial`` draws (``sample_tokens``);
no top-k, no ``generation_config`` defaults. Temperature 0 is greedy. The log-probs kept with
``rollout.sampling_logprobs`` are of the temperature-scaled, untruncated distribution, as
the "hf" backend records them and as ``Learner._logprobs`` recomputes them.
Each prompt is prefilled once and its keys/values copied to its G sample rows.

On CPU the same loop runs eagerly: CUDA graphs are a CUDA feature, and torch.compile is left
off there (it costs a compilation per shape; the loop already drops most of ``generate``'s
per-token Python work: 1.2-1.5x its tokens/s on the tiny model, benchmarks/README.md). On
CUDA, shapes are bucketed (rows to a power of two, cache length to a multiple of 64 and at
least ``data.max_prompt_tokens + rollout.max_new_tokens``) so that a run captures a handful
of graphs, not one per step. If capture fails, the worker says so (a warning naming the
error) and decodes eagerly; ``decode_mode`` tells which path ran.

Limits: full-attention decoders whose attention is "sdpa" or "eager" (Qwen2/Qwen2.5/Llama
shapes); a model with sliding-window layers or another attention kernel is refused by name.
Weights must change in place (``set_weights`` and ``load_weights`` do): a graph holds the
addresses of the tensors it read when it was captured. Memory: up to ``KEEP_GRAPHS`` shapes
keep their cache and graph buffers between calls (a colocated learner keeps them through its
update): 2 x layers x rows x kv_heads x cache_len x head_dim elements, 0.3 GB in bf16 for the
0.5B shape at 128 rows.
"""
from __future__ import annotations

import inspect
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import torch
from transformers import DynamicCache, StaticCache

from rl.engine.rollout import RolloutWorker

CACHE_BUCKET = 64  # cache length granularity on CUDA: prompts of similar width share a graph
KEEP_GRAPHS = 4  # graphs (and their caches) kept per worker, most recently used first
STOP_CHECK_EVERY = 8  # decode steps between checks that every row has stopped (each check waits for the GPU)


class StaticCacheWorker(RolloutWorker):
    """A ``RolloutWorker`` whose tokens come from ``StaticDecoder`` (static cache, CUDA-graph decode step)."""

    step_mode = "cuda_graph"  # how the decode step runs on CUDA; CPU always runs it eagerly

    @property
    def decoder(self) -> StaticDecoder:
        # Made on first use, not in __init__: ``RolloutWorker.around`` builds workers without calling it.
        if getattr(self, "_decoder", None) is None:
            self._decoder = StaticDecoder(self.model, mode=self.step_mode,
                                          min_cache_len=self.data.max_prompt_tokens + self.rollout.max_new_tokens)
        return self._decoder

    @property
    def decode_mode(self) -> str:
        """"cuda_graph", "compile" or "eager": how the last decode steps ran."""
        return self.decoder.mode

    def _sample(self, batch: Mapping[str, torch.Tensor], num_samples: int, temperature: float,
                max_new_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder.sample(
            batch["input_ids"], batch["attention_mask"], num_samples=num_samples,
            max_new_tokens=max_new_tokens or self.rollout.max_new_tokens,
            temperature=temperature, top_p=self.rollout.top_p, stop_ids=self.stop_ids, pad_id=self.tokenizer.pad_token_id,
        )


class CompiledStepWorker(StaticCacheWorker):
    """The same loop, its decode step compiled by ``torch.compile(mode="reduce-overhead")`` (inductor kernels
    replayed through CUDA graphs). Compiling costs about a minute per shape; capture alone costs a forward."""

    step_mode = "compile"


def sample_tokens(logits: torch.Tensor, temperature: float, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One token per row of ``logits`` (B, V) and its log-prob under logits / temperature (untruncated).

    Temperature 0: the argmax, scored under the plain softmax. Otherwise a draw from softmax(logits /
    temperature) restricted to the smallest set of most likely tokens whose mass reaches ``top_p``
    (nucleus sampling; the most likely token always stays), renormalised.
    """
    logits = logits.float()
    if temperature == 0:
        tokens = logits.argmax(dim=-1)  # (B,)
        logp = torch.log_softmax(logits, dim=-1)
    else:
        logp = torch.log_softmax(logits / temperature, dim=-1)  # (B, V)
        probs = logp.exp()
        if top_p < 1.0:
            probs = _nucleus(probs, top_p)
        # argmax of p / Exp(1) noise is a draw from p / sum(p): torch.multinomial's own one-sample method (same RNG
        # use, same draws), without the validity check that makes multinomial wait for the GPU every token.
        tokens = (probs / torch.empty_like(probs).exponential_()).argmax(dim=-1)
    return tokens, logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """``probs`` (B, V) with every token outside the top-p nucleus set to 0 (not renormalised)."""
    ranked, order = probs.sort(dim=-1, descending=True)  # (B, V)
    mass_before = ranked.cumsum(dim=-1) - ranked  # mass of the tokens ranked above each one
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter_(-1, order, mass_before < top_p)
    return probs.masked_fill(~keep, 0.0)


class StaticDecoder:
    """Prefill + decode loop over a static KV cache for one causal LM (``transformers`` Qwen2-like)."""

    def __init__(self, model, *, mode: str = "cuda_graph", min_cache_len: int = 0):
        config = model.config
        if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
            raise ValueError(f"static rollout backend: {config.model_type} has sliding-window layers; use rollout.backend=hf")
        self.attention = config._attn_implementation
        if self.attention not in ("sdpa", "eager"):
            raise ValueError(f"static rollout backend: attention {self.attention!r} is not supported (sdpa or eager); "
                             "use rollout.backend=hf")
        if mode not in ("cuda_graph", "compile", "eager"):
            raise ValueError(f"unknown decode step mode {mode!r}")
        self.model = model
        self.body, self.head = model.get_decoder(), model.get_output_embeddings()
        # transformers 5.24 renamed the forward's cache argument (past_key_values -> cache); 5.17 has the old name.
        self.cache_arg = "cache" if "cache" in inspect.signature(self.body.forward).parameters else "past_key_values"
        self.on_cuda = model.device.type == "cuda"
        self.mode = mode if self.on_cuda else "eager"
        self.min_cache_len = min_cache_len if self.on_cuda else 0
        self.steps: OrderedDict[tuple, _DecodeStep] = OrderedDict()

    @torch.no_grad()
    def sample(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, num_samples: int, max_new_tokens: int,
               temperature: float, top_p: float, stop_ids: Sequence[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (P*G, T) and their log-probs (P*G, T) for left-padded prompts (P, W); see ``RolloutWorker._sample``."""
        device = input_ids.device
        autocast = torch.is_autocast_enabled(device.type)
        if not autocast:
            return self._sample(input_ids, attention_mask, num_samples, max_new_tokens, temperature, top_p, stop_ids, pad_id)
        # A caller's autocast (a colocated learner's fp32 weights): casts must be inside the graph, not cached from before it.
        with torch.autocast(device.type, dtype=torch.get_autocast_dtype(device.type), cache_enabled=False):
            return self._sample(input_ids, attention_mask, num_samples, max_new_tokens, temperature, top_p, stop_ids, pad_id)

    def _sample(self, input_ids, attention_mask, num_samples, max_new_tokens, temperature, top_p, stop_ids, pad_id):
        prompts, width = input_ids.shape
        n = prompts * num_samples
        device = input_ids.device
        rows = _power_of_two(n) if self.on_cuda else n  # graph shapes: a few buckets, not one per batch size
        cache_len = max(self.min_cache_len, width + max_new_tokens)
        if self.on_cuda:
            cache_len = -(-cache_len // CACHE_BUCKET) * CACHE_BUCKET
        # Row r of the decode batch is a sample of prompt source[r]; rows past n are padding (copies of prompt 0).
        source = torch.arange(prompts, device=device).repeat_interleave(num_samples)
        source = torch.cat([source, source.new_zeros(rows - n)])  # (rows,)

        prefill_cache, logits = self._prefill(input_ids, attention_mask)  # logits: (P, V) at each prompt's last token
        step = self._step_for(rows, cache_len, prefill_cache, source, attention_mask)
        step.start(prefill_cache, source, attention_mask)  # after any warm-up or capture, which wrote to the cache
        logits = logits[source]  # (rows, V)

        stop = torch.tensor(list(stop_ids), device=device)
        tokens = torch.full((rows, max_new_tokens), pad_id, dtype=torch.long, device=device)  # (rows, T)
        logprobs = torch.zeros((rows, max_new_tokens), device=device)  # (rows, T)
        done = torch.zeros(rows, dtype=torch.bool, device=device)
        for t in range(max_new_tokens):
            token, logp = sample_tokens(logits, temperature, top_p)  # (rows,), (rows,)
            token = token.masked_fill(done, pad_id)
            tokens[:, t] = token
            logprobs[:, t] = logp.masked_fill(done, 0.0)
            done |= torch.isin(token, stop)
            if t + 1 == max_new_tokens or ((t + 1) % STOP_CHECK_EVERY == 0 and bool(done[:n].all())):
                break
            logits = step.next(token, column=width + t)  # (rows, V)
        return tokens[:n, : t + 1].cpu(), logprobs[:n, : t + 1].cpu()  # one copy, not one per row

    def _prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Each prompt once: its keys/values in a DynamicCache and the logits of its next token (P, V)."""
        cache = DynamicCache(config=self.model.config)
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # left padding: real tokens count from 0
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True,
                           **{self.cache_arg: cache}).last_hidden_state  # (P, W, H)
        return cache, self.head(hidden[:, -1]).float()

    def _step_for(self, rows: int, cache_len: int, prefill_cache, source: torch.Tensor, attention_mask: torch.Tensor) -> _DecodeStep:
        device = prefill_cache.layers[0].keys.device
        # Under autocast (a colocated learner's fp32 weights) rotary embeddings leave keys in fp32 and values in
        # bf16; the cache stores both in the autocast dtype, which attention casts them to anyway.
        store = torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else None
        key = (rows, cache_len, prefill_cache.layers[0].keys.dtype, store)
        step = self.steps.pop(key, None)
        if step is None:
            step = _DecodeStep(self, rows, cache_len, device, store)
            step.start(prefill_cache, source, attention_mask)  # the cache's tensors exist before any capture
            if self.mode != "eager":
                try:
                    step.build(self.mode)
                except Exception as exc:  # any capture or compile failure: decode eagerly, and say why
                    warnings.warn(f"static rollout backend: {self.mode} decode step failed on this model "
                                  f"({type(exc).__name__}: {exc}); decoding eagerly", RuntimeWarning, stacklevel=2)
                    self.mode = "eager"
                    step = _DecodeStep(self, rows, cache_len, device, store)
            while len(self.steps) >= KEEP_GRAPHS:
                self.steps.popitem(last=False)
        self.steps[key] = step
        return step

    def forward_one(self, cache, tokens: torch.Tensor, positions: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Logits (B, V) of the next token after ``tokens`` (B, 1) at rotary ``positions`` (B, 1), attending
        to the cache columns where ``allowed`` (B, L) is set. Static shapes, no host sync: capturable."""
        if self.attention == "sdpa":
            mask = allowed[:, None, None, :]  # (B, 1, 1, L) boolean: True = attend
        else:  # eager attention adds its mask to the scores
            dtype = self.head.weight.dtype
            mask = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)[:, None, None, :]
        hidden = self.body(input_ids=tokens, position_ids=positions, attention_mask={"full_attention": mask}, use_cache=True,
                           **{self.cache_arg: cache}).last_hidden_state  # (B, 1, H)
        return self.head(hidden[:, -1]).float()  # (B, V)


class _DecodeStep:
    """One static cache and the fixed input buffers of the decode step, with the step made runnable:
    eagerly, captured as a CUDA graph, or compiled. ``next`` decodes one token for every row."""

    def __init__(self, decoder: StaticDecoder, rows: int, cache_len: int, device: torch.device, store: torch.dtype | None):
        self.decoder = decoder
        self.cache = _StoredAs(store, config=decoder.model.config, max_cache_len=cache_len)
        self.tokens = torch.zeros((rows, 1), dtype=torch.long, device=device)  # (B, 1) the token just sampled
        self.positions = torch.zeros((rows, 1), dtype=torch.long, device=device)  # (B, 1) its rotary position
        self.allowed = torch.zeros((rows, cache_len), dtype=torch.bool, device=device)  # (B, L) columns it may attend to
        self.run: Callable[[], torch.Tensor] = self._eager

    def _eager(self) -> torch.Tensor:
        return self.decoder.forward_one(self.cache, self.tokens, self.positions, self.allowed)

    def start(self, prefill_cache, source: torch.Tensor, attention_mask: torch.Tensor) -> None:
        """Reset the cache to the prompts: prefill keys/values copied to each sample's row, its padding masked out."""
        self.cache.reset()  # in place: a captured graph keeps pointing at these tensors
        for i, layer in enumerate(prefill_cache.layers):
            self.cache.update(layer.keys[source], layer.values[source], i)  # (B, heads, W, D) into columns 0..W-1
        width = prefill_cache.layers[0].keys.shape[-2]
        self.allowed.zero_()
        self.allowed[:, :width] = attention_mask[source].bool()
        self.positions.copy_(attention_mask[source].long().sum(-1, keepdim=True) - 1)  # the last prompt token's

    def next(self, token: torch.Tensor, column: int) -> torch.Tensor:
        """Feed ``token`` (B,), written to cache ``column``; the logits of the token after it (B, V)."""
        self.tokens.copy_(token.unsqueeze(-1))
        self.positions.add_(1)
        self.allowed[:, column] = True
        return self.run()

    def build(self, mode: str) -> None:
        if mode == "cuda_graph":
            self.run = self._capture()
        else:
            compiled = torch.compile(self.decoder.forward_one, mode="reduce-overhead", dynamic=False)
            for buffer in (self.tokens, self.positions, self.allowed):
                torch._dynamo.mark_static_address(buffer)  # changed in place between calls, read from where they are

            def run() -> torch.Tensor:
                torch.compiler.cudagraph_mark_step_begin()  # the previous step's logits are consumed by now
                return compiled(self.cache, self.tokens, self.positions, self.allowed)

            run()  # compile now, inside the warm-up, not in the first timed step
            self.run = run

    def _capture(self) -> Callable[[], torch.Tensor]:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as capture requires (lazy inits, cuBLAS workspaces)
            for _ in range(2):
                self._eager()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits = self._eager()  # (B, V): rewritten in place by every replay

        def replay() -> torch.Tensor:
            graph.replay()
            return logits

        return replay


class _StoredAs(StaticCache):
    """A StaticCache whose keys and values are stored in one dtype (None: as they come). transformers 5.17
    allocates both in the keys' dtype and refuses values of another (index_copy_), as autocast produces."""

    def __init__(self, dtype: torch.dtype | None, **kwargs):
        super().__init__(**kwargs)
        self.stored_dtype = dtype

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        if self.stored_dtype is not None:
            key_states, value_states = key_states.to(self.stored_dtype), value_states.to(self.stored_dtype)
        return super().update(key_states, value_states, layer_idx, *args, **kwargs)


def _power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()
