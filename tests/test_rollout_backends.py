"""Rollout backends (rl.registries.ROLLOUT_BACKENDS): the static-cache decoder against transformers' generate.

CPU tests run the static backend's loop eagerly; the ``gpu`` tests (skipped without CUDA) run its
CUDA-graph and compiled decode steps and check them against the same references.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from rl.config import AlgorithmConfig, DataConfig, LearnerConfig, RolloutConfig
from rl.config.loader import load_config
from rl.data.records import TrainSequence
from rl.data.tasks import arithmetic
from rl.engine.learner import Learner
from rl.engine.rollout import RolloutWorker
from rl.engine.static_decode import StaticCacheWorker, StaticDecoder, sample_tokens
from rl.registries import ROLLOUT_BACKENDS

PROMPTS = arithmetic(12, 0, seed=3)[0]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def worker(backend: str, model_path: str, device: str = "cpu", dtype: str = "float32", **rollout) -> RolloutWorker:
    config = RolloutConfig(**{"max_new_tokens": 16, "sampling_logprobs": True, **rollout})
    return ROLLOUT_BACKENDS.get(backend)(model_path, DataConfig(), config, device=device, dtype=dtype)


def completions(groups) -> list[tuple[int, ...]]:
    return [r.completion_ids for g in groups for r in g.rollouts]


def learner_logprobs(model_path: str, groups, temperature: float, device: str = "cpu") -> list[list[float]]:
    """The learner's log-probs of each rollout's completion tokens, from one forward over prompt + completion."""
    learner = Learner(model_path, LearnerConfig(device=device, micro_batch_size=64), AlgorithmConfig(), temperature=temperature)
    rollouts = [r for g in groups for r in g.rollouts]
    batch = learner._collate([TrainSequence(r.prompt_ids, r.completion_ids) for r in rollouts])
    logprobs = learner._logprobs(learner.model, batch, grad=False, temperature=temperature)  # (B, L-1)
    return [logprobs[i, len(r.prompt_ids) - 1 : len(r.prompt_ids) - 1 + len(r.completion_ids)].tolist() for i, r in enumerate(rollouts)]


def max_gap(groups, reference: list[list[float]]) -> float:
    rollouts = [r for g in groups for r in g.rollouts]
    assert all(len(r.logprobs) == len(ref) == len(r.completion_ids) for r, ref in zip(rollouts, reference))
    return max(abs(a - b) for r, ref in zip(rollouts, reference) for a, b in zip(r.logprobs, ref))


def test_backends_are_registered_rollout_workers():
    for name in ("hf", "static", "static_compile"):
        assert issubclass(ROLLOUT_BACKENDS.get(name), RolloutWorker)
    config = load_config(None, ["rollout.backend=static"])
    assert ROLLOUT_BACKENDS.get(config.rollout.backend) is StaticCacheWorker


def test_greedy_static_gives_the_tokens_hf_gives(model_path):
    hf = worker("hf", model_path).generate(PROMPTS[:5], 3, temperature=0.0, seed=7)
    static = worker("static", model_path).generate(PROMPTS[:5], 3, temperature=0.0, seed=7)
    assert completions(static) == completions(hf)
    assert [r.finished for g in static for r in g.rollouts] == [r.finished for g in hf for r in g.rollouts]
    assert [r.prompt_ids for g in static for r in g.rollouts] == [r.prompt_ids for g in hf for r in g.rollouts]
    assert max_gap(static, [list(r.logprobs) for g in hf for r in g.rollouts]) < 1e-4


@pytest.mark.parametrize("backend", ["hf", "static"])
@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9)])
def test_sampling_logprobs_are_the_learners(model_path, backend, temperature, top_p):
    """What the sampler says it sampled with is what the learner computes on the same tokens (top-p
    truncates the draw, not the recorded distribution, on both sides)."""
    groups = worker(backend, model_path, top_p=top_p).generate(PROMPTS[:6], 4, temperature=temperature, seed=3)
    assert len({r.completion_ids for g in groups for r in g.rollouts}) > 12  # really sampled
    assert max_gap(groups, learner_logprobs(model_path, groups, temperature)) < 1e-4


def test_static_samples_ignore_generation_config_defaults(model_path):
    """A checkpoint's generation_config (here top_k=1) must not narrow the policy's distribution."""
    static = worker("static", model_path)
    static.model.generation_config.top_k = 1
    groups = static.generate(PROMPTS[:2], 16, temperature=1.0, seed=0)
    assert all(len({r.completion_ids[0] for r in g.rollouts}) > 3 for g in groups)


def test_sample_tokens_draws_from_temperature_and_nucleus():
    """Empirical frequencies of 40k draws against softmax(logits / T) truncated to the top-p set."""
    logits = torch.tensor([2.0, 1.5, 1.0, 0.0, -1.0, -3.0])
    temperature, top_p = 0.8, 0.85
    probs = torch.softmax(logits / temperature, -1)
    keep = (torch.cumsum(probs, -1) - probs) < top_p  # logits are sorted: the nucleus is a prefix
    expected = torch.where(keep, probs, 0.0) / probs[keep].sum()
    torch.manual_seed(0)
    tokens, logprobs = sample_tokens(logits.expand(40_000, -1), temperature, top_p)
    observed = torch.bincount(tokens, minlength=len(logits)).float() / len(tokens)
    assert keep.tolist() == [True, True, True, False, False, False]
    assert torch.allclose(observed, expected, atol=0.01)
    assert torch.allclose(logprobs, torch.log(probs)[tokens], atol=1e-6)  # the untruncated distribution's
    greedy, greedy_lp = sample_tokens(logits[None], 0.0, top_p)
    assert greedy.item() == 0 and greedy_lp.item() == pytest.approx(torch.log_softmax(logits, -1)[0].item(), abs=1e-6)


def test_static_under_a_learners_autocast_gives_hf_greedy_tokens(model_path):
    """fp32 weights under bf16 autocast, as a colocated learner samples: keys leave the rotary embedding in
    fp32 and values in bf16 (transformers 5.17's StaticCache refused that); tokens and log-probs as hf's."""
    runs = []
    for backend in ("hf", "static"):
        sampler = worker(backend, model_path)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            runs.append(sampler.generate(PROMPTS[:4], 2, temperature=0.0, seed=0))
    assert completions(runs[1]) == completions(runs[0])
    assert max_gap(runs[1], [list(r.logprobs) for g in runs[0] for r in g.rollouts]) < 1e-3


def test_a_worker_built_around_a_model_samples_from_it(model_path):
    base = worker("static", model_path)
    around = StaticCacheWorker.around(base.model, base.tokenizer, DataConfig(), base.rollout)
    assert completions(around.generate(PROMPTS[:3], 2, temperature=0.0, seed=0)) == \
        completions(base.generate(PROMPTS[:3], 2, temperature=0.0, seed=0))


def test_new_weights_reach_the_static_decoder(model_path):
    """set_weights copies in place; the cached decode state must sample from the new weights."""
    static, hf = worker("static", model_path), worker("hf", model_path)
    static.generate(PROMPTS[:3], 2, temperature=0.0, seed=0)  # builds the decoder and its cache
    new = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v for k, v in hf.model.state_dict().items()}
    static.set_weights(new, 1)
    hf.set_weights(new, 1)
    assert completions(static.generate(PROMPTS[:3], 2, temperature=0.0, seed=0)) == \
        completions(hf.generate(PROMPTS[:3], 2, temperature=0.0, seed=0))


@pytest.mark.slow
def test_decode_step_traces_as_one_graph(model_path):
    """No graph break in the decode step: no host sync or data-dependent branch, so a CUDA graph can hold it."""
    static = worker("static", model_path)
    static.generate(PROMPTS[:2], 2, temperature=0.0, seed=0)
    decoder: StaticDecoder = static.decoder
    step = next(iter(decoder.steps.values()))
    traced = torch.compile(decoder.forward_one, backend="eager", fullgraph=True)
    with torch.no_grad():
        traced(step.cache, step.tokens, step.positions, step.allowed)


# ----------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("backend, mode", [("static", "cuda_graph"), ("static_compile", "compile")])
def test_cuda_decode_step_gives_hf_greedy_tokens(model_path, backend, mode):
    """fp32 on the GPU (no TF32): the captured/compiled step must give generate's greedy tokens, over two
    batch shapes, and after new weights arrive in place."""
    fast, hf = worker(backend, model_path, device="cuda"), worker("hf", model_path, device="cuda")
    for prompts, g in ((PROMPTS[:5], 3), (PROMPTS[:2], 2)):  # 16 and 4 rows: two captured shapes
        assert completions(fast.generate(prompts, g, temperature=0.0, seed=0)) == completions(hf.generate(prompts, g, temperature=0.0, seed=0))
    assert fast.decode_mode == mode
    new = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v for k, v in hf.model.state_dict().items()}
    fast.set_weights(new, 1)
    hf.set_weights(new, 1)
    assert completions(fast.generate(PROMPTS[:5], 3, temperature=0.0, seed=0)) == completions(hf.generate(PROMPTS[:5], 3, temperature=0.0, seed=0))
    assert fast.decode_mode == mode


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("backend", ["static", "static_compile"])
def test_cuda_sampling_logprobs_are_the_learners(model_path, backend):
    fast = worker(backend, model_path, device="cuda", top_p=0.9)
    groups = fast.generate(PROMPTS[:6], 8, temperature=0.8, seed=1)
    assert fast.decode_mode in ("cuda_graph", "compile")
    assert max_gap(groups, learner_logprobs(model_path, groups, 0.8, device="cuda")) < 1e-3


@pytest.mark.gpu
@needs_cuda
def test_cuda_static_in_bf16_under_a_learners_autocast(model_path):
    """bf16 sampler weights, as rollout.dtype=auto gives on a GPU, and fp32 weights under autocast (a
    colocated learner's module): both sample within bf16 noise of the learner's autocast forward."""
    bf16 = worker("static", model_path, device="cuda", dtype="bfloat16")
    groups = bf16.generate(PROMPTS[:6], 8, temperature=1.0, seed=2)
    assert bf16.decode_mode == "cuda_graph"
    assert max_gap(groups, learner_logprobs(model_path, groups, 1.0, device="cuda")) < 0.1
    fp32 = worker("static", model_path, device="cuda", dtype="float32")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        groups = fp32.generate(PROMPTS[:6], 8, temperature=1.0, seed=2)
    assert fp32.decode_mode == "cuda_graph"
    assert max_gap(groups, learner_logprobs(model_path, groups, 1.0, device="cuda")) < 0.1
