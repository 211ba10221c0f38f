"""GRPO with verifiable rewards on Ray: the loop, top to bottom.

    rlvr train experiments/tiny_arith.yaml --out runs/arith

Each step: pick prompts -> rollout actors sample G completions each -> the verifier
pool judges them and the reward components score them -> group advantages ->
learner actors update -> learner 0's weights go to the rollout actors (colocated,
``rollout.colocate``: the learners sample themselves, and there is nothing to send). Before RL,
an optional SFT warm-up teaches the answer format; held-out accuracy is measured
before and after RL and written to ``summary.json``.

What a run survives without a person (README, "Checkpoints and resume"): a lost rollout actor is
replaced inside ``Cluster`` and its call retried; a lost learner (``LearnerLost``) sends the loop
back to the newest checkpoint with a fresh learner group, as --resume would; Ctrl-C and SIGTERM
save the last completed step (``rl.runs.interrupts``).
"""
from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import ray
import torch
from tqdm.auto import tqdm

from rl.algorithms import DynamicSampler, filter_groups
from rl.config import ExperimentConfig
from rl.data.mixture import MixtureSchedule
from rl.data.prompts import drop_long_prompts, load_splits
from rl.data.records import Prompt, ScoredGroup, TrainSequence, flatten
from rl.engine.actors import ActorFailure, Cluster, LearnerLost
from rl.engine.policy import ensure_model, load_tokenizer
from rl.engine.scorer import (  # noqa: F401 - VerifierOutage re-exported
    RolloutScorer,
    VerifierOutage,
    check_unjudged,
    domain_metrics,
    is_truncated,
    is_void,
    status_fractions,
    trajectory_metrics,
)
from rl.envs import declared_tools
from rl.loops.heldout import EVAL_SEED, eval_budgets, evaluate_heldout, headline_accuracy
from rl.loops.sft import run_sft, sft_sequences
from rl.registries import ADVANTAGE_ESTIMATORS
from rl.runs.interrupts import StopSignals
from rl.runs.manifest import record_stage, write_manifest
from rl.runs.run_dir import RunDirectory, latest_checkpoint
from verifiers.judge.local import ACTOR_CPUS as JUDGE_ACTOR_CPUS


class PromptSchedule:
    """Which prompts step ``s`` trains on: a function of (seed, s) alone, so resuming needs no data state."""

    def __init__(self, prompts: Sequence[Prompt], per_step: int, seed: int):
        self.prompts, self.per_step, self.seed = list(prompts), per_step, seed

    def batch(self, index: int) -> list[Prompt]:
        out = []
        for position in range(index * self.per_step, (index + 1) * self.per_step):
            epoch, offset = divmod(position, len(self.prompts))
            out.append(self.prompts[self._order(epoch)[offset]])
        return out

    @functools.lru_cache(maxsize=2)  # noqa: B019 - one schedule per run; it lives as long as the run
    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.prompts)))
        random.Random(self.seed * 100_003 + epoch).shuffle(order)
        return order


def prompt_schedule(config: ExperimentConfig, prompts: Sequence[Prompt]) -> PromptSchedule | MixtureSchedule:
    """One dataset: every prompt in turn; a mixture: domains drawn by weight (``rl.data.mixture``)."""
    if config.data.mixture:
        return MixtureSchedule(prompts, config.data.mixture, config.rollout.prompts_per_step, config.run.seed)
    return PromptSchedule(prompts, config.rollout.prompts_per_step, config.run.seed)


def train(config: ExperimentConfig, *, init_path: str | None = None, heldout: Sequence[Prompt] | None = None,
          record_manifest: bool = True) -> dict:
    """SFT warm-up (``sft.steps``) then ``run.total_steps`` of GRPO, from ``model.path`` or ``init_path``
    (a pipeline's previous stage); held-out evals on ``heldout`` when given, else the data's own split."""
    started = time.time()
    train_prompts, own_heldout = load_splits(config.data)
    heldout = own_heldout if heldout is None else list(heldout)
    model_path = Path(init_path) if init_path is not None else ensure_model(config)
    tokenizer = load_tokenizer(model_path)
    train_prompts, dropped = drop_long_prompts(train_prompts, tokenizer, config.data)
    if dropped:
        print(f"dropped {len(dropped)} prompts longer than data.max_prompt_tokens={config.data.max_prompt_tokens}")

    resume = latest_checkpoint(config.run.out_dir) if config.run.resume else None
    if config.run.resume and resume is None:
        print(f"no complete checkpoint in {config.run.out_dir}: starting from scratch")
    start_step, load_from = (resume[0], str(resume[1])) if resume else (0, str(model_path))
    run = RunDirectory(config, resume_step=start_step if resume else None)
    manifest = run.path / "manifest.json"
    if record_manifest and not (resume and manifest.exists()):
        write_manifest(manifest, config, train_prompts, heldout)
    start_ray(config)
    cluster = Cluster(config, load_from)
    scorer = RolloutScorer(config)
    summary: dict = {"name": config.name, "model": str(model_path), "placement": cluster.placement(),
                     "weight_sync": cluster.weight_sync}
    progress = _Progress(completed=start_step, saved=start_step if resume else None, rl_started=bool(resume))
    stops = StopSignals()

    def heldout_eval() -> dict:  # greedy by default, the same samples every time
        return evaluate_heldout(cluster, scorer, heldout, temperature=config.rollout.eval_temperature, seed=EVAL_SEED,
                                modes=config.run.eval_modes, budgets=eval_budgets(config))

    schedule = prompt_schedule(config, train_prompts)

    def rl_step(step: int) -> dict:
        """Generate and score; then update, sync, eval, log and save, which a signal lets finish."""
        batch, metrics = collect_batch(config, cluster, scorer, schedule, step)
        with stops.deferred():
            progress.updating = True  # from here until the sync, learner weights are between steps
            metrics.update(update_policy(config, cluster, batch, step))
            progress.updating, progress.completed = False, step + 1
            if config.run.eval_every and (step + 1) % config.run.eval_every == 0:
                metrics.update(heldout_eval())
            metrics["recovery/actor_restarts"] = cluster.restarts.spent  # the run's totals so far
            metrics["recovery/verifier_reruns"] = scorer.pool.reruns
            metrics["recovery/verifier_pool_restarts"] = scorer.pool.pool_restarts
            run.log(step + 1, metrics)
            if config.run.save_every and (step + 1) % config.run.save_every == 0:
                cluster.save(str(run.checkpoint_path(step + 1)), {"step": step + 1, "summary": summary})
                progress.saved = step + 1
                run.plot()
        return metrics

    try:
        stops.install()
        if resume:
            cluster.start_phase(config.learner.lr)
            summary = {**cluster.load_trainer_state(load_from).get("summary", {}), "placement": summary["placement"],
                       "weight_sync": cluster.weight_sync}
            print(f"resumed from {load_from} at step {start_step}")
        else:
            summary.update(_warm_up(config, cluster, train_prompts, tokenizer, run, heldout_eval))
            progress.rl_started = True
        bar = tqdm(desc="GRPO", unit="step", dynamic_ncols=True, initial=start_step, total=config.run.total_steps)
        step = start_step
        while step < config.run.total_steps:
            try:
                metrics = rl_step(step)
            except LearnerLost as lost:  # back to this run's newest checkpoint, with a fresh learner group
                step = _restart_learners(config, cluster, run, progress, lost)
                bar.reset(total=config.run.total_steps)
                bar.update(step)
                continue
            bar.update(1)
            bar.set_postfix(reward=f"{metrics['reward/mean']:.3f}", acc=f"{metrics['train/accuracy']:.2f}")
            step += 1
        bar.close()
        summary["eval_after_rl"] = heldout_eval()
        summary["heldout_accuracy_after_rl"] = headline_accuracy(summary["eval_after_rl"], config.run.eval_modes)
        summary["rl_steps"] = config.run.total_steps
        cluster.save(str(run.checkpoint_path(config.run.total_steps)), {"step": config.run.total_steps, "summary": summary})
    except (Exception, KeyboardInterrupt):
        _save_what_was_done(cluster, run, progress, summary)
        raise
    finally:
        stops.uninstall()
        scorer.close()
        cluster.shutdown()
        run.plot()
        run.close()
    summary["wall_time_s"] = round(time.time() - started, 1)
    run.write_summary(summary)
    if record_manifest:
        record_stage(manifest, "sft+grpo", summary)
    return summary


@dataclass
class _Progress:
    completed: int          # RL steps whose update reached the rollout actors
    saved: int | None       # step of the newest checkpoint
    updating: bool = False  # inside an update: learner weights are between two steps
    rl_started: bool = False


def _restart_learners(config: ExperimentConfig, cluster: Cluster, run: RunDirectory, progress: _Progress,
                      lost: LearnerLost) -> int:
    """A fresh learner group from the newest checkpoint of this run (what --resume loads), its weights sent
    to the rollout actors; the steps after it are dropped from the log, to run again. Returns that step."""
    if progress.saved is None:
        raise ActorFailure(f"{lost}; no checkpoint of this run to restart the learners from yet "
                           f"(run.save_every={config.run.save_every})") from lost
    step, path = progress.saved, run.checkpoint_path(progress.saved)
    cluster.restart_learners(str(path), lr=config.learner.lr, version=step, cause=lost)
    run.rewind(step)
    progress.completed, progress.updating = step, False
    print(f"learners restarted from {path}: steps {step + 1}.. run again", flush=True)
    return step


def collect_batch(
config: ExperimentConfig, cluster: Cluster, scorer: RolloutScorer, schedule: PromptSchedule,
                  step: int) -> tuple[list[TrainSequence], dict]:
    """Generate, score, and turn rewards into per-sequence advantages; metrics of what was sampled.

    Samples the verifier could not judge (timeout, error, bad reference) are masked, never
    trained as wrong: no advantage, out of their group's statistics and of the loss normaliser;
    a group left with fewer than two judged samples is dropped. Past ``run.max_unjudged_fraction``
    the step stops with ``VerifierOutage``.
    """
    t0 = time.time()
    groups, rounds = _sample_groups(config, cluster, scorer, schedule, step)
    samples = flatten(groups)
    check_unjudged(samples, config.run.max_unjudged_fraction, f"step {step}")
    estimator = ADVANTAGE_ESTIMATORS.get(config.algorithm.advantage_estimator)
    void_filter = config.rollout.env.void_turn_filter
    trained = [judged_group_sequences(group, estimator, void_filter=void_filter, mask_truncated=config.algorithm.mask_truncated)
               for group in groups]
    batch = [seq for seqs in trained for seq in seqs]
    judged = [s for s in samples if s.verdict.judged]
    metrics = {
        "reward/mean": mean(s.reward for s in judged),
        "train/accuracy": mean(s.verdict.score for s in judged),
        "completion/length": mean(len(s.rollout.completion_ids) for s in samples),
        "completion/finished": mean(s.rollout.finished for s in samples),
        **trajectory_metrics(samples, void_filter),
        "groups/informative": float(filter_groups(_reward_range(groups)).float().mean()),
        "groups/dropped_unjudged": sum(1 for seqs in trained if not seqs),  # also those left with < 2 by mask_truncated
        "groups/rounds": rounds,
        "time/rollout_s": time.time() - t0,
        **status_fractions(samples),
        **scorer.judge_metrics(),  # judge/*: requests, cache hits, unparsable replies, overruled rules; none without a judge
    }
    for name in dict.fromkeys(c for s in samples for c in s.components):  # domains may have components of their own
        values = [s.components[name] for s in judged if name in s.components]
        if values:
            metrics[f"reward/{name}"] = mean(values)
    metrics.update(domain_metrics(samples, "train"))
    return batch, metrics


def judged_group_sequences(group: ScoredGroup, estimator, *, void_filter: bool = False,
                           mask_truncated: bool = False) -> list[TrainSequence]:
    """The group's judged samples with their group-relative advantages; none if fewer than two were judged.
    ``void_filter`` (SimpleTIR) also leaves out trajectories that ended on a void turn (``is_void``);
    ``mask_truncated`` (``algorithm.mask_truncated``) those cut by a length limit (``is_truncated``): like an
    unjudged sample they leave the group's statistics, the loss and its normaliser, never trained as wrong."""
    judged = [s for s in group.samples if s.verdict.judged and not (void_filter and is_void(s))
              and not (mask_truncated and is_truncated(s.rollout))]
    if len(judged) < 2:
        return []
    advantages = estimator(torch.tensor([[s.reward for s in judged]]))[0]  # (G',): the estimator sees judged rewards only
    return [TrainSequence(s.rollout.prompt_ids, s.rollout.completion_ids, float(a), loss_mask=s.rollout.loss_mask)
            for s, a in zip(judged, advantages)]


def _reward_range(groups: Sequence[ScoredGroup]) -> torch.Tensor:
    """(N, 2): each group's lowest and highest judged reward; equal when fewer than two were judged,
    so that such a group counts as carrying no signal."""
    rows = []
    for group in groups:
        rewards = [s.reward for s in group.samples if s.verdict.judged]
        rows.append([min(rewards), max(rewards)] if len(rewards) >= 2 else [0.0, 0.0])
    return torch.tensor(rows)


def update_policy(config: ExperimentConfig, cluster: Cluster, batch: Sequence[TrainSequence], step: int) -> dict:
    """One learner update on the batch, then the new weights to the rollout actors."""
    t0 = time.time()
    if not batch:  # every group dropped (unjudged or too small): nothing to learn from, weights unchanged
        return {"time/update_s": time.time() - t0}
    learner_metrics = cluster.grpo_step(batch, num_tokens=sum(s.target_tokens for s in batch),
                                        num_seqs=len(batch), max_len=sampled_token_limit(config.rollout))
    cluster.sync_weights(version=step + 1)
    return {"time/update_s": time.time() - t0, **{f"learner/{k}": v for k, v in learner_metrics.items()}}


def sampled_token_limit(rollout) -> int:
    """The most tokens one trajectory can sample: Dr. GRPO's constant length normaliser. An injected early stop
    (``rollout.thinking_budget``, inject mode) lets a turn sample ``rollout.answer_budget`` more after its cut."""
    per_turn = rollout.max_new_tokens
    if rollout.thinking_budget is not None and rollout.thinking_budget_mode == "inject":
        per_turn += rollout.answer_budget
    if not rollout.env.multi_turn:
        return per_turn
    return rollout.env.max_trajectory_tokens or per_turn * rollout.env.max_turns


def _save_what_was_done(cluster: Cluster, run: RunDirectory, progress: _Progress, summary: dict) -> None:
    """On a crash or Ctrl-C, checkpoint the last completed step so --resume loses nothing."""
    if not progress.rl_started:
        return  # stopped during the warm-up: there is no RL state to keep
    if progress.updating or progress.saved == progress.completed:
        where = "" if progress.saved is None else f"; --resume continues from step {progress.saved}"
        print(f"run stopped at step {progress.completed}{where}")
        return
    try:
        cluster.save(str(run.checkpoint_path(progress.completed)), {"step": progress.completed, "summary": summary})
        print(f"run stopped: saved step {progress.completed} to {run.checkpoint_path(progress.completed)}; "
              f"continue with --resume")
    except Exception as exc:  # the learners may be what failed; say where the last good state is
        print(f"run stopped; could not save step {progress.completed} ({exc}); "
              f"--resume continues from step {progress.saved or 0}")


def _sample_groups(config, cluster, scorer, schedule, step) -> tuple[list[ScoredGroup], int]:
    """G scored completions per prompt; with dynamic sampling, only groups whose (judged) rewards differ."""
    G, seed = config.rollout.group_size, config.run.seed * 1_000_003 + step * 101
    if not config.algorithm.dynamic_sampling:
        prompts = schedule.batch(step)
        return scorer.score(cluster.generate(prompts, G, temperature=config.rollout.temperature, seed=seed)), 1
    max_rounds = 4
    sampler = DynamicSampler(config.rollout.prompts_per_step, max_rounds=max_rounds)
    last: list[ScoredGroup] = []
    for round_ in range(max_rounds):
        prompts = schedule.batch(step * max_rounds + round_)
        last = scorer.score(cluster.generate(prompts, G, temperature=config.rollout.temperature, seed=seed + round_))
        if sampler.add(last, _reward_range(last)):
            break
    kept = sampler.take() or last  # nothing informative at all: train on the last round (zero advantages)
    return kept, sampler.rounds or max_rounds


def _warm_up(config, cluster, train_prompts, tokenizer, run, heldout_eval) -> dict:
    """Held-out accuracy of the initial model, SFT warm-up, then held-out accuracy before RL."""
    out = {}
    modes = config.run.eval_modes
    if config.sft.steps:
        out["heldout_accuracy_initial"] = headline_accuracy(heldout_eval(), modes)
        sequences = sft_sequences(train_prompts, tokenizer, config.data, tools=declared_tools(config.rollout.env))
        history = run_sft(cluster, sequences, config.sft, seed=config.run.seed)
        out["sft_final_loss"] = history[-1]["loss"]
        cluster.sync_weights(version=0)
    before = heldout_eval()
    out["eval_before_rl"] = before
    out["heldout_accuracy_before_rl"] = headline_accuracy(before, modes)
    run.log(0, before)
    cluster.start_phase(config.learner.lr)
    return out


def start_ray(*configs: ExperimentConfig) -> None:
    """Join ``RAY_ADDRESS`` or start a local Ray runtime with CPUs for the largest of ``configs``
    (a pipeline's stages run one after another, so the largest stage sets the need)."""
    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address)
        return
    # Ray's own local default is token authentication, which it announces on every start: a line
    # that means nothing to someone running on their own machine. Only that line is dropped; the
    # authentication itself stays as Ray sets it (and a cluster joined above keeps its own).
    logging.getLogger(_RAY_AUTH_LOGGER).addFilter(_quiet_local_auth_notice)
    # Locally, rollout and learner actors take turns (the loop is synchronous), so their CPU
    # requests may add up to more than the machine has without oversubscribing it.
    # A local judge's actor (verifiers.judge.local) asks for its CPU too: without it, it could wait for one forever.
    wanted = max(c.rollout.num_actors * c.rollout.num_cpus + c.learner.num_learners * c.learner.num_cpus
                 + (JUDGE_ACTOR_CPUS if c.judge.backend == "local" else 0) for c in configs)
    ray.init(num_cpus=max(os.cpu_count() or 1, int(wanted + 0.999)), include_dashboard=False, log_to_driver=False,
             configure_logging=False)


_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _quiet_local_auth_notice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Token authentication is enabled for this Ray cluster")
