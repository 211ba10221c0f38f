"""Experiment configuration: frozen dataclasses, one per concern, every field documented.

    from rl.config.loader import load_config, save_config
    config = load_config("experiments/tiny_arith.yaml", ["rollout.group_size=8", "run.out_dir=runs/x"])
    save_config(config, run_dir / "config.yaml")   # the resolved config, loadable again

One dataclass per concern (model, data, rollout, algorithm, learner, rewards, sft, run),
all held by ``ExperimentConfig``. Every field has a default, so a YAML file names only
what it changes. Overrides are parsed with YAML scalar rules (``true``, ``1e-5``,
``[a, b]``); a list of reward components is addressed by index or by component name
(``rewards.components.format.weight=0.2``). An unknown key, a wrong type or an invalid
value raises ``ConfigError`` naming the dotted key and where it came from
(``file:line`` or the override), with the closest valid key when one is near.
"""
from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rewards.compose import RewardComponent
from rl.modes import MODES, QWEN3_EARLY_STOP
from rl.registries import (
    ADVANTAGE_ESTIMATORS,
    ALGORITHMS,
    DPO_LOSSES,
    ENVIRONMENTS,
    LOSS_AGGREGATIONS,
    ROLLOUT_BACKENDS,
    STAGE_KINDS,
    TOOLS,
    Registry,
)
from verifiers.judge import JUDGE_VERIFIERS


class ConfigError(ValueError):
    """A configuration problem; ``key`` is the offending field, relative to the dataclass that raised it."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _invalid(key: str, problem: str) -> ConfigError:
    return ConfigError(f"{key} {problem}", key=key)


def _at_least(config: Any, minimum: int, *keys: str) -> None:
    for key in keys:
        if getattr(config, key) < minimum:
            raise _invalid(key, f"must be >= {minimum}, got {getattr(config, key)}")


def _registered(config: Any, key: str, registry: Registry) -> None:
    """A name chosen in config must be in its registry: a typo fails at load, not after the model loaded."""
    value = getattr(config, key)
    if value not in registry:
        known = registry.names()
        raise _invalid(key, f"must be a registered {registry.kind} ({', '.join(known)}); got {value!r}{_did_you_mean(value, known)}")


def _positive(config: Any, *keys: str) -> None:
    for key in keys:
        if getattr(config, key) <= 0:
            raise _invalid(key, f"must be > 0, got {getattr(config, key)}")


HALF_DTYPES = ("bfloat16", "float16")


@dataclass(frozen=True)
class LoRAConfig:
    r: int = 0  # adapter rank; 0 = no LoRA, every weight trains (full fine-tuning)
    alpha: float = 16.0  # scale alpha / r; peft's and TRL's usual 16 with r 8-16
    dropout: float = 0.0  # RL batches are noisy enough; dropout on adapters only slows learning
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")  # every linear of a Qwen2/Llama block, as QLoRA found best

    def __post_init__(self) -> None:
        _at_least(self, 0, "r", "dropout")
        _positive(self, "alpha")
        if self.r and not self.target_modules:
            raise _invalid("target_modules", "must name at least one module when r > 0")
        if not self.dropout < 1:
            raise _invalid("dropout", f"must be in [0, 1), got {self.dropout}")

    @property
    def enabled(self) -> bool:
        return self.r > 0


@dataclass(frozen=True)
class ModelConfig:
    path: str = "tiny"  # "tiny" builds a small Qwen2-style model from the task's own text: no hub, runs on CPU
    lora: LoRAConfig = field(default_factory=LoRAConfig)  # r > 0: train low-rank adapters only (peft); the frozen base is also the KL/DPO reference
    seed: int = 0  # initial weights of the tiny model, so that two runs start from the same point
    tiny_hidden_size: int = 128  # tiny only: big enough to learn 2-digit arithmetic, small enough for 2 CPU cores
    tiny_intermediate_size: int = 256  # tiny only: 2x hidden keeps the MLP cheap
    tiny_layers: int = 2  # tiny only: two layers learn the answer format within a few hundred SFT steps
    tiny_heads: int = 4  # tiny only: head size 32
    tiny_kv_heads: int = 2  # tiny only: grouped-query attention, as in Qwen2
    tiny_vocab_size: int = 512  # tiny only: 256 byte tokens + merges; arithmetic text needs few
    tiny_max_positions: int = 512  # tiny only: prompt + completion of the default task fit in 200 tokens
    context_length: int = 0  # tokens the model attends over, for --dry-run's length checks; 0: the checkpoint's max_position_embeddings (tiny: tiny_max_positions)

    def __post_init__(self) -> None:
        if not self.path:
            raise _invalid("path", 'must be "tiny" or a local Hugging Face model directory')
        _at_least(self, 1, "tiny_hidden_size", "tiny_intermediate_size", "tiny_layers", "tiny_heads", "tiny_kv_heads")
        if self.tiny_hidden_size % self.tiny_heads:
            raise _invalid("tiny_heads", f"({self.tiny_heads}) must divide tiny_hidden_size ({self.tiny_hidden_size})")
        if self.tiny_heads % self.tiny_kv_heads:
            raise _invalid("tiny_kv_heads", f"({self.tiny_kv_heads}) must divide tiny_heads ({self.tiny_heads})")
        _at_least(self, 300, "tiny_vocab_size")  # 256 byte tokens + specials + some merges
        _at_least(self, 16, "tiny_max_positions")
        _at_least(self, 0, "context_length")


@dataclass(frozen=True)
class DomainConfig:
    """One domain of a multi-domain stage (``data.mixture``): its prompts, its share of each step, its scoring.

    Prompts come from ``train_file``/``eval_file`` (read with the data section's field names) or from
    ``generator``; each is tagged with the domain's name (``Prompt.domain``), which picks its reward
    components and labels its metrics (``train/accuracy/<domain>``, ``eval/accuracy/<domain>``).
    """

    weight: float = 1.0  # share of each step's prompts, relative to the other domains' weights
    generator: str | None = None  # task generator (rl.data.tasks.GENERATORS) when there is no train_file
    generator_params: Mapping[str, Any] = field(default_factory=dict)  # the generator's own knobs
    train_file: str | None = None  # JSONL or parquet of prompts, read like data.train_file
    eval_file: str | None = None  # this domain's held-out prompts; None with a file: no held-out split for it
    n_train: int = 500  # generated training problems: a mixture's domains share each step, so fewer each than a one-domain run
    n_eval: int = 50  # generated held-out problems per domain: enough for a per-domain accuracy, quick to evaluate
    seed: int | None = None  # generator seed; None: data.seed
    verifier: str | None = None  # judges every prompt of the domain (judge, cascade, ifeval, ...); None: each record's own
    mode: str | None = None  # think or no_think for prompts that set none; None: data.enable_thinking and /think switches decide
    rewards: tuple[RewardComponent, ...] = ()  # this domain's reward components; empty: the experiment's rewards.components

    def __post_init__(self) -> None:
        _positive(self, "weight")
        _at_least(self, 0, "n_train", "n_eval")
        if (self.train_file is None) == (self.generator is None):
            raise _invalid("generator", "or train_file: set exactly one (where the domain's prompts come from)")
        if self.eval_file is not None and self.train_file is None:
            raise _invalid("eval_file", "needs train_file: a generator brings its own held-out split")
        if self.mode is not None and self.mode not in MODES:
            raise _invalid("mode", f"must be one of {', '.join(MODES)} or null; got {self.mode!r}{_did_you_mean(self.mode, MODES)}")
        if self.rewards:
            RewardsConfig(self.rewards)  # the same checks as the experiment's components: unique names, a non-zero weight


@dataclass(frozen=True)
class DataConfig:
    train_file: str | None = None  # JSONL or parquet of prompts; None: use the generator
    eval_file: str | None = None  # held-out prompts for the same file format; None: no eval unless generated
    generator: str | None = "arithmetic"  # task generator used when train_file is None (see rl.data.tasks)
    n_train: int = 2000  # generated training problems: many more than the run will see twice
    n_eval: int = 100  # generated held-out problems: enough for a stable accuracy, quick to evaluate
    seed: int = 0  # generator seed; the same seed gives the same problems and the same split
    generator_params: Mapping[str, Any] = field(default_factory=dict)  # task-specific knobs, e.g. {digits: 2}
    id_field: str = "id"  # record key of a prompt's id; missing ids become file:line
    prompt_field: str = "prompt"  # record key of the prompt text (or a list of chat messages)
    messages_field: str = "messages"  # record key of chat messages [{role, content}], used when present
    reference_field: str = "reference"  # record key of the reference answer the verifier checks against
    verifier_field: str = "verifier"  # record key naming a per-sample verifier
    solution_field: str = "solution"  # record key of a worked solution (SFT warm-up)
    default_verifier: str = "math"  # verifier for records that do not name one
    max_prompt_tokens: int = 128  # longer prompts are dropped: they would crowd out the completion
    system_prompt: str | None = None  # prepended as a system message; None: the tiny model is taught the format by SFT
    use_chat_template: bool = True  # render prompts with the tokenizer's chat template, as the model was tuned
    enable_thinking: bool = True  # Qwen3 semantics: False pre-fills an empty <think></think>
    mixture: Mapping[str, DomainConfig] = field(default_factory=dict)  # name -> domain: several datasets in one stage, drawn by weight; empty: train_file or generator alone

    def __post_init__(self) -> None:
        if self.mixture:
            for name in self.mixture:
                if not name or "/" in name:
                    raise _invalid("mixture", f"domain names must be non-empty and without '/' (they label metrics); got {name!r}")
            return
        if self.train_file is None and self.generator is None:
            raise _invalid("train_file", "or generator must be set: there are no prompts otherwise")
        _at_least(self, 0, "n_train", "n_eval")
        _at_least(self, 1, "max_prompt_tokens")


def _plugins(group: str) -> set[str]:
    """Names installed packages register under an entry point ``group`` (``rlvr.tools``, ``rlvr.environments``)."""
    from importlib.metadata import entry_points

    return {ep.name for ep in entry_points(group=group)}


@dataclass(frozen=True)
class EnvConfig:
    """What the policy acts in during a rollout (``rl.envs``): one answer, or turns with tools."""

    name: str = "single_turn"  # a registered environment (rl.registries.ENVIRONMENTS): single_turn = one answer, today's rollout
    tools: tuple[str, ...] = ()  # tools the model may call (registered names or module:function), declared to the chat template
    max_turns: int = 4  # assistant turns per trajectory: room for a few calls, then an answer
    max_tool_calls: int = 8  # tool calls per trajectory; calls past it are answered "not run", not executed
    max_tool_response_tokens: int = 256  # a longer tool message is cut in the middle, saying so: outputs must not crowd out the answer
    max_trajectory_tokens: int = 0  # completion-side tokens over all turns (sampled + injected); 0 = max_new_tokens x max_turns
    tool_timeout_s: float = 10.0  # per call; a slower call answers "timed out" and the rollout goes on
    void_turn_filter: bool = False  # SimpleTIR: a trajectory that ends on a turn with neither a call nor an answer leaves the loss

    def __post_init__(self) -> None:
        if ":" not in self.name and self.name not in _plugins("rlvr.environments"):  # module:attr plug-ins load at run time
            _registered(self, "name", ENVIRONMENTS)
        _at_least(self, 1, "max_turns", "max_tool_response_tokens")
        _at_least(self, 0, "max_tool_calls", "max_trajectory_tokens")
        _positive(self, "tool_timeout_s")
        if ENVIRONMENTS.info(self.name).get("needs_tools") and not self.tools:
            raise _invalid("tools", f"must name at least one tool for env {self.name!r} (built-in: {', '.join(TOOLS.names())})")
        for tool in self.tools:
            if tool not in TOOLS and ":" not in tool and tool not in _plugins("rlvr.tools"):
                raise _invalid("tools", f"entries must be registered tools ({', '.join(TOOLS.names())}) or module:function; "
                                        f"got {tool!r}{_did_you_mean(tool, TOOLS.names())}")

    @property
    def multi_turn(self) -> bool:
        return self.name != "single_turn"


@dataclass(frozen=True)
class RolloutConfig:
    num_actors: int = 1  # generation actors; one is enough on CPU
    group_size: int = 8  # completions per prompt (G): GRPO's baseline is the group mean, so >= 2
    prompts_per_step: int = 16  # prompts per step: 16 x 8 = 128 completions per update
    max_new_tokens: int = 64  # the default task's worked solutions take ~30 tokens
    temperature: float = 1.0  # sample from the policy itself, so that the ratio is on-policy
    top_p: float = 1.0  # no truncation: truncated sampling biases the policy-gradient estimate
    eval_temperature: float = 0.0  # 0 = greedy: eval accuracy without sampling noise
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # weights the sampler holds; auto: bfloat16 on a GPU, float32 on CPU (where half precision is slower and refused)
    backend: str = "hf"  # a registered rollout backend (rl.registries.ROLLOUT_BACKENDS): hf = transformers generate
    colocate: bool | None = None  # learners generate their own shard from their just-updated weights (no weight transfer); None: when learners have GPUs
    weight_sync: Literal["auto", "collective", "object_store"] = "auto"  # separate rollout actors: torch.distributed broadcast (auto), or Ray's object store (fallback)
    sampling_logprobs: bool = False  # keep the sampler's per-token log-probs in each rollout; costs a (B, T, V) copy per step, and learners recompute what they need
    num_cpus: float = 1  # Ray CPUs per rollout actor (also its torch threads)
    num_gpus: float = 0  # Ray GPUs per rollout actor; 0 on CPU machines
    resources: Mapping[str, float] = field(default_factory=dict)  # custom Ray resources, e.g. {rollout_node: 1}, to pin actors to nodes
    device: str = "auto"  # "auto": cuda when the actor was given a GPU
    env: EnvConfig = field(default_factory=EnvConfig)  # single answer (default) or multi-turn tool use
    thinking_budget: int | None = None  # thinking tokens per assistant turn (rl.engine.thinking_budget); None: a thought ends when the model ends it or at max_new_tokens
    thinking_budget_mode: Literal["inject", "truncate"] = "inject"  # inject: Qwen3's early stop, then the model answers; truncate: the sample ends there
    answer_budget: int = 32  # inject: tokens the model may answer with after the forced </think>; the tiny task's answer takes ~12
    thinking_early_stop: str = QWEN3_EARLY_STOP  # injected at the budget (loss mask 0); Qwen3's own text, which its models were fused with

    def __post_init__(self) -> None:
        _registered(self, "backend", ROLLOUT_BACKENDS)
        if self.device == "cpu" and self.dtype in HALF_DTYPES:
            raise _invalid("dtype", f"{self.dtype} on CPU is slower than float32 and not what the learner computes; use float32 or auto")
        if self.group_size < 2:
            raise _invalid("group_size", f"must be >= 2 (a group baseline needs two samples), got {self.group_size}")
        _at_least(self, 1, "num_actors", "prompts_per_step", "max_new_tokens")
        _positive(self, "temperature", "top_p")
        _at_least(self, 0, "eval_temperature")
        if self.top_p > 1:
            raise _invalid("top_p", f"must be in (0, 1], got {self.top_p}")
        if self.thinking_budget is not None and self.thinking_budget < 0:
            raise _invalid("thinking_budget", f"must be >= 0 tokens or null (no budget), got {self.thinking_budget}")
        _at_least(self, 1, "answer_budget")
        if "</think>" not in self.thinking_early_stop:
            raise _invalid("thinking_early_stop", f"must close the thought with </think> (else the model goes on thinking); "
                                                  f"got {self.thinking_early_stop!r}")


@dataclass(frozen=True)
class AlgorithmConfig:
    name: str = "grpo"  # the only RL algorithm so far
    advantage_estimator: str = "grpo"  # group-normalised advantage, as in DeepSeekMath
    loss_agg: str = "token-mean"  # DAPO: every token weighs the same, long answers are not diluted
    clip_low: float = 0.2  # PPO's lower clip
    clip_high: float = 0.28  # DAPO clip-higher: room for low-probability tokens to grow, against entropy collapse
    kl_coef: float = 0.0  # verifiable rewards need no KL anchor (DAPO, Dr. GRPO); saves a reference model
    dynamic_sampling: bool = False  # DAPO's resampling of all-same-reward groups; off keeps every step the same size
    ppo_epochs: int = 1  # updates per batch; 1 is strictly on-policy, so the clip never binds
    mask_truncated: bool = False  # samples cut by a length limit leave the loss and their group (TRL mask_truncated_completions): unfinished is not wrong; off trains them on their reward, as before

    def __post_init__(self) -> None:
        for key, registry in (("name", ALGORITHMS), ("advantage_estimator", ADVANTAGE_ESTIMATORS), ("loss_agg", LOSS_AGGREGATIONS)):
            _registered(self, key, registry)
        for key in ("clip_low", "clip_high"):
            if not 0 <= getattr(self, key) < 1:
                raise _invalid(key, f"must be in [0, 1), got {getattr(self, key)}")
        _at_least(self, 0, "kl_coef")
        _at_least(self, 1, "ppo_epochs")


@dataclass(frozen=True)
class LearnerConfig:
    num_learners: int = 1  # data-parallel learners; one on CPU
    lr: float = 1e-4  # for the tiny model; real 0.5B+ checkpoints want about 1e-6
    weight_decay: float = 0.0  # short fine-tuning: decay only pulls weights toward zero
    micro_batch_size: int = 16  # sequences per forward/backward; gradients accumulate over the step
    grad_clip: float = 1.0  # max global grad norm; RL gradients spike when a group flips
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when available
    backend: Literal["auto", "gloo", "nccl"] = "auto"  # auto: nccl on cuda, gloo on cpu
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # forward/backward under autocast, fp32 master weights; auto: bf16 on a GPU, no on CPU
    strategy: Literal["ddp", "fsdp"] = "ddp"  # ddp: a full replica per learner; fsdp: parameters, gradients and optimizer state sharded (FSDP2)
    gradient_checkpointing: bool = False  # recompute activations in backward: long completions fit, ~30% more compute
    offload_optimizer: bool = False  # fsdp only: fp32 master weights, gradients and Adam state in CPU memory, Adam steps there (frees 16 bytes/param on the GPU, costs a CPU optimizer step)
    num_cpus: float = 1  # Ray CPUs per learner (also its torch threads)
    num_gpus: float = 0  # Ray GPUs per learner; 0 on CPU machines
    resources: Mapping[str, float] = field(default_factory=dict)  # custom Ray resources per learner bundle
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"  # PACK keeps gradient all-reduce on one node when it fits

    def __post_init__(self) -> None:
        _at_least(self, 1, "num_learners", "micro_batch_size")
        _at_least(self, 0, "weight_decay")
        _positive(self, "lr", "grad_clip")
        if self.device == "cpu" and self.mixed_precision in ("bf16", "fp16"):
            raise _invalid("mixed_precision", f"{self.mixed_precision} on CPU is slower than float32; use no or auto")
        if self.offload_optimizer and self.strategy != "fsdp":
            raise _invalid("offload_optimizer", "needs strategy fsdp (a ddp replica keeps its optimizer state on its device)")
        on_cpu = self.device == "cpu" or (self.device == "auto" and not self.num_gpus)  # auto in a Ray actor without a GPU: cpu
        if self.offload_optimizer and on_cpu:
            raise _invalid("offload_optimizer", "is for GPU learners: on CPU the optimizer state is in CPU memory already")
        if self.strategy == "fsdp" and self.num_learners == 1 and on_cpu:
            raise _invalid("strategy", "fsdp with one learner on CPU shards nothing and offloads nothing: use ddp "
                           "(fsdp pays off with several learners, or on one GPU with offload_optimizer)")


def _default_reward_components() -> tuple[RewardComponent, ...]:
    return (
        RewardComponent("correct", "verifier", 1.0),  # the verifiable reward itself
        RewardComponent("format", "format", 0.1),  # small: a nudge toward <think>...</think> \boxed{}, never worth a wrong answer
        RewardComponent("length", "length", 0.0),  # logged only: length is a symptom to watch, not a goal
    )


@dataclass(frozen=True)
class RewardsConfig:
    components: tuple[RewardComponent, ...] = field(default_factory=_default_reward_components)  # summed, weighted

    def __post_init__(self) -> None:
        names = [c.name for c in self.components]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _invalid("components", f"names must be unique; repeated: {', '.join(repeated)}")
        if not any(c.weight for c in self.components):
            raise _invalid("components", "need at least one component with a non-zero weight")


@dataclass(frozen=True)
class JudgeConfig:
    """A served model judging responses (``verifiers.judge``), for prompts whose verifier is ``judge`` or ``cascade``."""

    backend: Literal["openai", "local"] = "openai"  # any OpenAI-compatible server (vLLM, SGLang, transformers serve); local: one Ray actor
    base_url: str = ""  # e.g. http://127.0.0.1:8000/v1; no default server exists, so an unset one is caught at load
    model: str = ""  # the served model id (openai) or a model directory (local); part of the cache key
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never written in a config; local servers need none
    template: str = "with_reference"  # built-in name or a text file with {question} {reference} {response}
    template_without_reference: str = "without_reference"  # for prompts whose reference is empty (open questions)
    verdict_format: Literal["yes_no", "score"] = "yes_no"  # a binary verdict is what a verifiable reward is; score for graded rubrics
    score_range: tuple[float, float] = (0.0, 10.0)  # SCORE: n must lie in it; mapped onto [0, 1]; 0-10 is the usual rubric scale
    strip_thinking: bool = True  # the judge grades the answer; a long thought would cost tokens and sway it
    max_concurrency: int = 8  # requests in flight: enough to keep a batching server busy, few enough not to swamp a shared one
    batch_size: int = 8  # local backend: prompts per generate call; small, the judge shares its GPU's memory
    timeout_s: float = 60.0  # per request; a reply of max_tokens on a busy server fits, a dead one costs its items a timeout
    retries: int = 2  # more attempts after a connection error, 5xx or 429: a restarting server, not a broken request
    backoff_s: float = 1.0  # first wait before a retry, doubled each time: 1 s, 2 s gives a server a moment without stalling a step
    max_tokens: int = 512  # the judge's reply: room for a short reason and the verdict line, bounded so a rambling judge cannot stall
    cache: bool = True  # <run.out_dir>/judge_cache.sqlite: --resume and repeated samples do not pay twice
    prefilter: bool = True  # empty and "master key" responses are wrong without a call (One Token to Fool LLM-as-a-Judge)
    rule_verifier: str = "math"  # cascade: the rule verifier asked first; a prompt's own rule_verifier field overrides it
    num_gpus: float = 0.0  # local backend: GPUs for the judge actor; 0 runs it on CPU (tests, tiny judges)
    load_timeout_s: float = 600.0  # local backend: a fresh actor's load, on top of timeout_s; a large judge from a slow disk takes minutes

    def __post_init__(self) -> None:
        _positive(self, "max_concurrency", "batch_size", "timeout_s", "max_tokens", "load_timeout_s")
        if self.retries < 0 or self.backoff_s < 0 or self.num_gpus < 0:
            raise _invalid("retries", "retries, backoff_s and num_gpus must be >= 0")
        low, high = self.score_range
        if not low < high:
            raise _invalid("score_range", f"must be [low, high] with low < high, got {list(self.score_range)}")

    def check_usable(self) -> None:
        """What a run that routes prompts to the judge needs: ``check_settings``, and for backend local a model
        directory here (checked when a judge is built, not when a config loads: like model.path, a recipe may
        name a judge this machine does not hold yet)."""
        from verifiers.judge.local import JudgeModelError, check_judge_model_dir

        self.check_settings()
        if self.backend == "local":
            try:
                check_judge_model_dir(self.model)
            except JudgeModelError as exc:
                raise _invalid("model", f"cannot be loaded by backend local: {exc}") from None

    def check_settings(self) -> None:
        """A server (openai) or a model (local) named, and readable templates."""
        from verifiers.judge.prompt import TemplateError, load_template

        if self.backend == "openai" and not (self.base_url and self.model):
            raise _invalid("base_url" if not self.base_url else "model", "must be set: backend openai needs judge.base_url and judge.model")
        if self.backend == "local" and not self.model:
            raise _invalid("model", "must be set: backend local loads judge.model, a model directory")
        for key in ("template", "template_without_reference"):
            try:
                load_template(getattr(self, key))
            except TemplateError as exc:
                raise _invalid(key, f"cannot be used: {exc}") from None


@dataclass(frozen=True)
class SFTConfig:
    steps: int = 300  # cold-start warm-up before RL; the tiny model needs it to produce the format at all; 0 skips
    lr: float = 1e-3  # a randomly initialised tiny model learns fast; use ~1e-5 for real checkpoints
    batch_size: int = 32  # examples per step
    packing: bool = False  # several examples per row (attention kept within each): less padding on mixed lengths, same loss

    def __post_init__(self) -> None:
        _at_least(self, 0, "steps")
        _at_least(self, 1, "batch_size")
        _positive(self, "lr")


@dataclass(frozen=True)
class DPOConfig:
    steps: int = 0  # DPO updates; 0 skips the stage (it is opt-in, GRPO is the default algorithm)
    lr: float = 1e-4  # for the tiny model; real 0.5B+ checkpoints want ~5e-7: larger steps drive both log-probs down
    batch_size: int = 32  # pairs per update (64 sequences); at least one pair per learner
    beta: float = 0.1  # the DPO paper's and TRL's default: how far the policy may move from the reference
    loss_type: str = "sigmoid"  # a registered DPO loss: sigmoid (DPO), ipo, hinge, robust
    label_smoothing: float = 0.0  # sigmoid/robust only: assumed label-flip rate; 0 trusts the labels
    pairs_file: str | None = None  # offline pairs, JSONL or parquet (rl.data.preferences formats); None: none
    onpolicy_prompts: int = 0  # training prompts to sample groups for and mine pairs from; 0: offline only
    group_size: int = 8  # completions per prompt when mining: enough that most groups hold a right and a wrong answer
    min_margin: float = 0.0  # a mined pair's reward gap must exceed this: 0 pairs any two rewards that differ

    def __post_init__(self) -> None:
        _at_least(self, 0, "steps", "onpolicy_prompts", "min_margin")
        _at_least(self, 1, "batch_size")
        _at_least(self, 2, "group_size")
        _positive(self, "lr", "beta")
        _registered(self, "loss_type", DPO_LOSSES)
        takes_smoothing = DPO_LOSSES.info(self.loss_type).get("label_smoothing", True)
        if self.label_smoothing and not takes_smoothing:
            raise _invalid("label_smoothing", f"must be 0 for loss_type {self.loss_type!r}, which has no label smoothing "
                                              f"(sigmoid and robust do); got {self.label_smoothing}")
        if not 0 <= self.label_smoothing < 0.5:
            raise _invalid("label_smoothing", f"must be in [0, 0.5) (an assumed label-flip rate), got {self.label_smoothing}")
        if self.steps and self.pairs_file is None and not self.onpolicy_prompts:
            raise _invalid("steps", "needs pairs: set pairs_file, onpolicy_prompts, or both")


@dataclass(frozen=True)
class RunConfig:
    out_dir: str = "runs/default"  # checkpoints, metrics, the resolved config and the tiny-model cache
    total_steps: int = 100  # RL steps
    eval_every: int = 10  # steps between held-out evals; 0 = never
    save_every: int = 50  # steps between checkpoints; 0 = only at the end
    seed: int = 0  # sampling and shuffling
    resume: bool = False  # continue from the latest checkpoint in out_dir
    actor_timeout_s: float = 600  # a Ray call slower than this fails the run loudly instead of hanging it
    max_actor_restarts: int = 3  # lost rollout actors or learner groups replaced in-run; a few covers preemptions and OOMs, more means a broken node
    verifier_timeout_s: float = 5.0  # per completion; a stuck verifier costs its item a timeout, not the step
    code_test_timeout_s: float = 2.0  # the code verifier's one time setting: each test case's limit (a loop fails its case); item deadlines derive from it
    code_item_deadline_s: float = 0.0  # 0: derived per item (start-up + tests x (limit + overhead)); a fixed value must fit code_max_tests cases
    code_max_tests: int = 16  # most test cases one code item may carry; more is a data error naming the item
    max_unjudged_fraction: float = 0.25  # unjudged samples (timeout, error) are masked; past a quarter of a step the verifier, not the policy, is the story: stop
    eval_modes: tuple[str, ...] = ()  # held-out evals in these thinking modes (think, no_think); empty: each prompt's own mode
    eval_thinking_budgets: tuple[int | None, ...] = ()  # also evaluate in thinking mode under these budgets (null = none) with rollout.thinking_budget_mode; empty: no budget sweep

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise _invalid("out_dir", "must not be empty")
        _at_least(self, 0, "total_steps", "eval_every", "save_every", "max_actor_restarts")
        _positive(self, "code_test_timeout_s")
        _at_least(self, 1, "code_max_tests")
        _at_least(self, 0, "code_item_deadline_s")
        if self.code_item_deadline_s:
            from verifiers.code_budget import check_code_budget  # arithmetic only: no torch, no docker

            try:
                check_code_budget(self.code_test_timeout_s, self.code_item_deadline_s, self.code_max_tests)
            except ValueError as exc:
                raise _invalid("code_item_deadline_s", f"does not fit: {exc}") from None
        if not 0 <= self.max_unjudged_fraction <= 1:
            raise _invalid("max_unjudged_fraction", f"must be in [0, 1], got {self.max_unjudged_fraction}")
        for mode in self.eval_modes:
            if mode not in MODES:
                raise _invalid("eval_modes", f"entries must be one of {', '.join(MODES)}; got {mode!r}{_did_you_mean(mode, MODES)}")
        if len(set(self.eval_modes)) != len(self.eval_modes):
            raise _invalid("eval_modes", f"repeats a mode: {list(self.eval_modes)}")
        if any(b is not None and b < 0 for b in self.eval_thinking_budgets) or len(set(self.eval_thinking_budgets)) != len(self.eval_thinking_budgets):
            raise _invalid("eval_thinking_budgets", f"must be distinct token counts >= 0 or null; got {list(self.eval_thinking_budgets)}")


# Sections a stage may change; the model is the previous stage's checkpoint and the run
# directory is the pipeline's, so neither is a stage's to set (a stage's model section holds
# only its LoRA settings: StageModelConfig).
STAGE_SECTIONS = ("data", "rollout", "algorithm", "learner", "rewards", "sft", "dpo", "run")
STAGE_FIXED_RUN_KEYS = ("out_dir", "resume", "seed")


@dataclass(frozen=True)
class StageModelConfig:
    """What a stage may change of the model: its LoRA settings (the weights are the previous stage's)."""

    lora: Mapping[str, Any] = field(default_factory=dict)  # e.g. {r: 16}: this stage trains an adapter; {r: 0}: in full; empty: the experiment's model.lora


@dataclass(frozen=True)
class StageConfig:
    """One stage of a pipeline: its kind, and what it changes in the experiment's sections.

    A stage runs on the experiment config with its sections merged in (mappings merge key by
    key, lists are replaced), starting from the previous stage's checkpoint. E.g.
    ``{kind: sft, name: cold_start, sft: {steps: 300}, data: {train_file: cold.jsonl}}``.
    """

    kind: str  # sft (supervised, on worked solutions / assistant turns), grpo, dpo, or eval (no update)
    name: str = ""  # unique within the pipeline; names the stage's directory and results; default: the kind
    model: StageModelConfig = field(default_factory=StageModelConfig)  # only {lora: {r: 16}}: e.g. full SFT, then LoRA GRPO
    data: Mapping[str, Any] = field(default_factory=dict)  # e.g. {train_file: cold_start.jsonl}; held-out evals stay on the experiment's split
    rollout: Mapping[str, Any] = field(default_factory=dict)  # e.g. {group_size: 16}
    algorithm: Mapping[str, Any] = field(default_factory=dict)  # e.g. {kl_coef: 0.01}
    learner: Mapping[str, Any] = field(default_factory=dict)  # e.g. {lr: 1e-6}
    rewards: Mapping[str, Any] = field(default_factory=dict)  # e.g. {components: [...]}, replacing the list
    sft: Mapping[str, Any] = field(default_factory=dict)  # e.g. {steps: 300, lr: 1e-3}
    dpo: Mapping[str, Any] = field(default_factory=dict)  # e.g. {steps: 50, onpolicy_prompts: 256}
    run: Mapping[str, Any] = field(default_factory=dict)  # e.g. {total_steps: 100, eval_every: 25}

    def __post_init__(self) -> None:
        _registered(self, "kind", STAGE_KINDS)
        fixed = [key for key in STAGE_FIXED_RUN_KEYS if key in self.run]
        if fixed:
            raise _invalid("run", f"cannot set {', '.join(fixed)} in a stage: the pipeline's run section owns them")

    @property
    def label(self) -> str:
        return self.name or self.kind

    def sections(self) -> dict[str, Mapping[str, Any]]:
        """The sections this stage changes, by name."""
        out = {name: getattr(self, name) for name in STAGE_SECTIONS if getattr(self, name)}
        return {"model": {"lora": self.model.lora}, **out} if self.model.lora else out


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "default"  # shown in logs and run directories
    expected_duration: str = ""  # printed when the run starts, e.g. "about 4 minutes on 2 CPU cores"; measured, not computed
    model: ModelConfig = field(default_factory=ModelConfig)  # which policy; the tiny one by default
    data: DataConfig = field(default_factory=DataConfig)  # which prompts; generated arithmetic by default
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # how completions are sampled
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)  # how they become a loss
    learner: LearnerConfig = field(default_factory=LearnerConfig)  # how the loss becomes an update
    rewards: RewardsConfig = field(default_factory=RewardsConfig)  # how verdicts become a scalar reward
    judge: JudgeConfig = field(default_factory=JudgeConfig)  # the served model for prompts routed to judge / cascade
    sft: SFTConfig = field(default_factory=SFTConfig)  # the warm-up before RL, and sft stages
    dpo: DPOConfig = field(default_factory=DPOConfig)  # dpo stages
    run: RunConfig = field(default_factory=RunConfig)  # where and how long
    stages: tuple[StageConfig, ...] = ()  # a pipeline (rl.loops.pipeline); empty: SFT warm-up (sft.steps) then GRPO (run.total_steps)

    def __post_init__(self) -> None:
        labels = [stage.label for stage in self.stages]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise _invalid("stages", f"names must be unique (a stage's name defaults to its kind); repeated: {', '.join(repeated)}")
        learners = self.learner.num_learners
        for key, batch in (("sft.batch_size", self.sft.batch_size), ("dpo.batch_size", self.dpo.batch_size)):
            if batch < learners:  # each data-parallel learner needs at least one example per step
                raise _invalid(key, f"({batch}) must be at least learner.num_learners ({learners})")
        if self.judge != JudgeConfig() or self.data.default_verifier in JUDGE_VERIFIERS:  # a judge section written, or used
            try:
                self.judge.check_settings()
            except ConfigError as exc:
                raise ConfigError(f"judge.{exc}", key=f"judge.{exc.key}") from None
        if self.rollout.colocate and self.learner.strategy == "fsdp":  # a shard cannot sample; ranks would stop at different lengths
            raise _invalid("rollout.colocate", "needs learner.strategy ddp: colocated learners sample from their own full module, "
                           "and an FSDP learner holds a shard (every token would all-gather, and ranks finish at different lengths); "
                           "set rollout.colocate: false to use rollout actors")


def _did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
