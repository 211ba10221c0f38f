"""Every name a config may choose, in one place, importable without torch.

    from rl.registries import ADVANTAGE_ESTIMATORS
    estimator = ADVANTAGE_ESTIMATORS.get("rloo")           # imports rl.algorithms.advantages on first use

    @ADVANTAGE_ESTIMATORS.register("my_estimator")          # a plug-in: register before the config loads
    def my_estimator(rewards, eps=1e-4): ...

Built-in entries are declared here as ``"module:attribute"`` targets and imported only when
``get`` is first called, so ``rl.config`` validates a name against the registry itself
(one source of truth) while ``import rl.config`` stays free of torch. ``info`` holds facts a
config check needs without importing the entry (e.g. whether a DPO loss takes label smoothing).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:  # names for the Protocols below; importing them here would pull torch into rl.config
    from rl.data.records import Prompt, RolloutGroup
    from rl.envs import Environment

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind  # what the entries are, for error messages: "advantage estimator"
        self._targets: dict[str, T | str] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def add(self, name: str, target: T | str, **info: Any) -> None:
        """``target``: the entry itself, or ``"module:attribute"`` imported on first ``get``."""
        if name in self._targets:
            raise ValueError(f"{self.kind} {name!r} is already registered ({self._targets[name]!r})")
        self._targets[name] = target
        self._info[name] = dict(info)

    def register(self, name: str, **info: Any) -> Callable[[T], T]:
        """Decorator form of ``add`` for plug-ins."""

        def decorate(entry: T) -> T:
            self.add(name, entry, **info)
            return entry

        return decorate

    def get(self, name: str) -> T:
        # ValueError, not KeyError: the name comes from a config file, and KeyError would quote the message.
        if name not in self._targets:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        target = self._targets[name]
        if isinstance(target, str):
            module, _, attribute = target.partition(":")
            target = self._targets[name] = getattr(importlib.import_module(module), attribute)
        return target

    def info(self, name: str) -> Mapping[str, Any]:
        return self._info.get(name, {})

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets


# (ExperimentConfig, *, init_path=None, heldout=None, record_manifest=True) -> summary dict: a whole RL loop.
ALGORITHMS: Registry[Callable] = Registry("RL algorithm")
ALGORITHMS.add("grpo", "rl.loops.grpo:train")

# (rewards (N, G), eps) -> advantages (N, G)
ADVANTAGE_ESTIMATORS: Registry[Callable] = Registry("advantage estimator")
ADVANTAGE_ESTIMATORS.add("grpo", "rl.algorithms.advantages:grpo_advantages")
ADVANTAGE_ESTIMATORS.add("dr_grpo", "rl.algorithms.advantages:dr_grpo_advantages")
ADVANTAGE_ESTIMATORS.add("rloo", "rl.algorithms.advantages:rloo_advantages")

# (values (B, T), mask (B, T), *, num_tokens, num_seqs, max_len) -> scalar loss
LOSS_AGGREGATIONS: Registry[Callable] = Registry("loss aggregation")
LOSS_AGGREGATIONS.add("token-mean", "rl.algorithms.losses:token_mean")
LOSS_AGGREGATIONS.add("seq-mean-token-mean", "rl.algorithms.losses:seq_mean_token_mean")
LOSS_AGGREGATIONS.add("seq-mean-token-sum-norm", "rl.algorithms.losses:seq_mean_token_sum_norm")

# (policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta, label_smoothing, *, lengths) -> (losses, metrics)
# info ``label_smoothing``: whether the loss takes one (config refuses a non-zero value otherwise).
DPO_LOSSES: Registry[Callable] = Registry("DPO loss")
DPO_LOSSES.add("sigmoid", "rl.algorithms.dpo:sigmoid_loss", label_smoothing=True)
DPO_LOSSES.add("ipo", "rl.algorithms.dpo:ipo_loss", label_smoothing=False)
DPO_LOSSES.add("hinge", "rl.algorithms.dpo:hinge_loss", label_smoothing=False)
DPO_LOSSES.add("robust", "rl.algorithms.dpo:robust_loss", label_smoothing=True)

# A pipeline stage kind: its runner and its dry-run description (rl.loops.stages.StageKind).
STAGE_KINDS: Registry[Any] = Registry("stage kind")
for _kind in ("sft", "grpo", "dpo", "eval"):
    STAGE_KINDS.add(_kind, f"rl.loops.stages:{_kind.upper()}_STAGE")

class Sampler(Protocol):
    """What a rollout backend builds (``rl.engine.rollout.RolloutWorker`` and its subclasses): it samples
    groups, takes new weights, and can also be built ``around`` a model that exists (colocation)."""

    version: int

    def generate(self, prompts: Sequence[Prompt], num_samples: int, *, temperature: float, seed: int,
                 enable_thinking: bool | None = None) -> list[RolloutGroup]: ...

    def set_weights(self, state_dict: Mapping[str, Any], version: int) -> int: ...

    def load_weights(self, tensors: Any) -> None: ...


# A Sampler class: (model_path, data config, rollout config, *, device, threads, dtype, lora), or .around(model, ...)
ROLLOUT_BACKENDS: Registry[type[Sampler]] = Registry("rollout backend")
ROLLOUT_BACKENDS.add("hf", "rl.engine.rollout:RolloutWorker")  # transformers generate
ROLLOUT_BACKENDS.add("static", "rl.engine.static_decode:StaticCacheWorker")  # static KV cache, decode step replayed as a CUDA graph
ROLLOUT_BACKENDS.add("static_compile", "rl.engine.static_decode:CompiledStepWorker")  # the same, step through torch.compile

# (EnvConfig, tokenizer) -> an Environment (rl.envs): what answers the policy's turns in a rollout.
# info ``needs_tools``: config refuses the environment without env.tools.
ENVIRONMENTS: Registry[Callable[[Any, Any], Environment]] = Registry("environment")
ENVIRONMENTS.add("single_turn", "rl.envs.single_turn:SingleTurn")  # one answer, no further turns
ENVIRONMENTS.add("tools", "rl.envs.tool_env:ToolEnvironment", needs_tools=True)  # <tool_call> blocks run, results come back as tool messages

# A tool the model may call: a typed function with a Google-style docstring (its JSON schema
# comes from them), returning text. Loaded by rl.envs.tools.load_tool, plug-ins included.
TOOLS: Registry[Callable] = Registry("tool")
TOOLS.add("calculator", "rl.envs.builtin_tools:calculator")  # sympy, parsed, never executed
TOOLS.add("python", "rl.envs.builtin_tools:python")  # a plain program in the Docker sandbox
