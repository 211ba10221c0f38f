"""Small frozen records that cross component boundaries (data → rollout → verifiers → learner).

Plain data only, so that they pickle into Ray actors and compare by value.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rl.modes import MODES

if TYPE_CHECKING:  # records stay importable without the verifiers package's dependencies
    from verifiers.verdict import Verdict


@dataclass(frozen=True)
class Prompt:
    """One problem to sample completions for.

    id:        stable identifier; samples of one prompt share it (groups, pass@k).
    messages:  chat turns as (role, content) pairs, or None when the prompt is plain ``text``.
    text:      the prompt as plain text, or None when it is ``messages``; exactly one of the two is set.
    reference: what the verifier checks a completion against (an answer; "" when ``fields`` hold tests).
    verifier:  name of the verifier that judges completions of this prompt (routing is per sample).
    fields:    extra record fields handed to the verifier, e.g. ``tests`` for code.
    solution:  a worked solution in the target format, for the SFT warm-up; None if the data has none.
    mode:      "think" or "no_think" for this sample; None: the configured default and any
               ``/think`` / ``/no_think`` switch in the text decide (``rl.data.thinking.resolve_mode``).
    domain:    the ``data.mixture`` domain it was drawn from ("" outside a mixture): picks its reward
               components and labels its metrics.
    """

    id: str
    messages: tuple[tuple[str, str], ...] | None
    text: str | None
    reference: str
    verifier: str = "math"
    fields: Mapping[str, Any] = field(default_factory=dict)
    solution: str | None = None
    mode: str | None = None
    domain: str = ""

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in MODES:
            raise ValueError(f"prompt {self.id!r}: mode must be 'think', 'no_think' or None, got {self.mode!r}")
        if (self.messages is None) == (self.text is None):
            raise ValueError(f"prompt {self.id!r}: set exactly one of messages and text")
        if self.messages is not None and not self.messages:
            raise ValueError(f"prompt {self.id!r}: messages must not be empty")

    def chat(self, system_prompt: str | None = None) -> list[dict[str, str]]:
        """The prompt as chat messages for ``tokenizer.apply_chat_template``, with ``system_prompt``
        first unless the prompt brings its own system message."""
        turns = list(self.messages) if self.messages is not None else [("user", self.text)]
        if system_prompt is not None and turns[0][0] != "system":
            turns.insert(0, ("system", system_prompt))
        return [{"role": role, "content": content} for role, content in turns]


@dataclass(frozen=True)
class Rollout:
    """One trajectory of one prompt, as the rollout actor produced it: the unit of RL.

    A single-turn rollout is one segment the policy sampled. A multi-turn one (``rl.envs``: tool
    use) interleaves the policy's turns with tokens it did not sample (tool messages, template
    glue between turns); ``loss_mask`` tells them apart. The ids are exactly the ones that went
    through the model, never text re-tokenised afterwards.

    prompt_ids / completion_ids: token ids; the completion is everything after the prompt, and stops at
                    (and includes) EOS when ``finished``.
    text:           what the verifier judges: the completion's text, or in a multi-turn trajectory the
                    last assistant turn's.
    logprobs:       per completion token, under the sampling distribution (temperature applied; 0 at
                    injected positions); empty unless ``rollout.sampling_logprobs`` asked for them.
    finished:       the last turn ended at EOS (not cut by a length limit).
    policy_version: the weight version that sampled it (for staleness checks and off-policy training).
    mode:           "think" / "no_think": the thinking mode the prompt was rendered in, which the
                    format reward checks; None where the producer did not record it.
    loss_mask:      per completion token, 1 = sampled by the policy, 0 = injected; empty = all sampled.
    finish_reason:  why the trajectory ended: "stop" (EOS after an answer), "length" (a turn hit
                    max_new_tokens, or the answer after an injected early stop hit rollout.answer_budget),
                    "max_turns", "token_cap" (rollout.max_trajectory_tokens), "thinking_budget" (a thought
                    cut at rollout.thinking_budget in truncate mode), "env_failure" (the environment itself
                    failed: the trajectory is unjudged).
    messages:       the turns after the prompt as chat messages ({"role", "content"}), for logs, eval
                    transcripts and trajectory-level rewards; empty for a single-turn rollout.
    env_info:       counts the environment kept (tool calls, bad calls, ...) and a failure's reason.
    thinking_tokens / answer_tokens: sampled tokens inside thoughts / outside them, over all turns (the
                    <think> tags count as neither; rl.engine.thinking_budget.thinking_split).
    budget_hit:     the thinking budget fired in some turn (rl.engine.thinking_budget).
    """

    prompt: Prompt
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    text: str
    logprobs: tuple[float, ...]
    finished: bool
    policy_version: int
    mode: str | None = None
    loss_mask: tuple[int, ...] = ()
    finish_reason: str = ""
    messages: tuple[Mapping[str, str], ...] = ()
    env_info: Mapping[str, Any] = field(default_factory=dict)
    thinking_tokens: int = 0
    answer_tokens: int = 0
    budget_hit: bool = False

    def __post_init__(self) -> None:
        if self.loss_mask and len(self.loss_mask) != len(self.completion_ids):
            raise ValueError(f"rollout of {self.prompt.id!r}: loss_mask has {len(self.loss_mask)} entries for "
                             f"{len(self.completion_ids)} completion tokens")

    @property
    def sampled_tokens(self) -> int:
        """How many completion tokens the policy sampled (what the loss and its normaliser count)."""
        return sum(self.loss_mask) if self.loss_mask else len(self.completion_ids)


@dataclass(frozen=True)
class ScoredRollout:
    """A rollout with its verdict and reward (total and per named component)."""

    rollout: Rollout
    verdict: Verdict
    reward: float
    components: Mapping[str, float]


@dataclass(frozen=True)
class RolloutGroup:
    """The ``G`` completions sampled for one prompt in one call: GRPO's unit of comparison."""

    prompt: Prompt
    rollouts: tuple[Rollout, ...]

    def __len__(self) -> int:
        return len(self.rollouts)


@dataclass(frozen=True)
class ScoredGroup:
    """A ``RolloutGroup`` after the verifiers and reward components: one ``ScoredRollout`` per sample."""

    prompt: Prompt
    samples: tuple[ScoredRollout, ...]

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def rewards(self) -> list[float]:
        return [s.reward for s in self.samples]


def flatten(groups: Sequence[RolloutGroup] | Sequence[ScoredGroup]) -> list:
    """Every sample of ``groups``, group after group (for metrics and batching, never to rebuild groups)."""
    return [item for group in groups for item in (group.rollouts if isinstance(group, RolloutGroup) else group.samples)]


@dataclass(frozen=True)
class TrainSequence:
    """What a learner trains on: one prompt + completion, with its advantage (RL) or none (SFT).

    loss_mask: per completion token, 1 where the token is a target (sampled by the policy, or an
    assistant turn in SFT), 0 where it is context only (tool output, template glue); empty = all.
    """

    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    advantage: float = 0.0
    loss_mask: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.loss_mask and len(self.loss_mask) != len(self.completion_ids):
            raise ValueError(f"loss_mask has {len(self.loss_mask)} entries for {len(self.completion_ids)} completion tokens")

    @property
    def target_tokens(self) -> int:
        """Tokens the loss counts: the normaliser of token-mean losses."""
        return sum(self.loss_mask) if self.loss_mask else len(self.completion_ids)

    def target_mask(self) -> tuple[int, ...]:
        return self.loss_mask or (1,) * len(self.completion_ids)


@dataclass(frozen=True)
class PreferencePair:
    """One prompt with a preferred and a dispreferred completion.

    prompt:         the prompt; plain text is wrapped into a ``Prompt`` with this pair's id.
    chosen/rejected: the completions as text.
    id:             stable identifier; defaults to the prompt's id.
    prompt_ids / chosen_ids / rejected_ids: token ids (completions end at EOS when finished), all three or
                    none; mined pairs carry the rollouts' own, so that the learner scores exactly what was sampled.
    chosen_reward / rejected_reward: the rewards a mined pair was ranked by; None for offline pairs.
    metadata:       anything else (a record's extra keys; a mined pair's reward components).
    """

    prompt: Prompt | str  # always a Prompt once constructed
    chosen: str
    rejected: str
    id: str = ""
    prompt_ids: tuple[int, ...] | None = None
    chosen_ids: tuple[int, ...] | None = None
    rejected_ids: tuple[int, ...] | None = None
    chosen_reward: float | None = None
    rejected_reward: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.prompt, str):
            object.__setattr__(self, "prompt", Prompt(id=self.id, messages=None, text=self.prompt, reference=""))
        if not self.id:
            object.__setattr__(self, "id", self.prompt.id)
        ids = (self.prompt_ids, self.chosen_ids, self.rejected_ids)
        if any(x is None for x in ids) and any(x is not None for x in ids):
            raise ValueError(f"pair {self.id!r}: set all of prompt_ids, chosen_ids and rejected_ids, or none")
