"""The ``local`` judge backend: a transformers model held by ONE Ray actor, shared by every caller.

    backend = LocalBackend("/models/judge", num_gpus=1, batch_size=8, max_tokens=512, timeout_s=60)
    backend.ping()                                  # ["/models/judge"]: the directory is there and the actor answers
    backend.complete(["Question: ... VERDICT?"])    # [Reply(text='VERDICT: YES', status='ok', ...)]

``LocalJudgeModel`` is the plain class (load, chat template, greedy batched ``generate``, decode) that
tests drive without Ray; ``JudgeActor`` is it made remote. The actor is named after the model directory
and created with ``get_if_exists``, so the training scorer, held-out evals and a second ``Judge`` in the
same Ray job reach the same one: one copy of the weights. It is not detached: Ray frees it (and the
model's memory) once no caller holds it any more, at the latest with the job; ``close()`` lets go of
this caller's handle only. Each call carries its own ``batch_size`` and ``max_tokens``,
so callers with different settings can share the model; the placement (``num_gpus``) is the first
caller's. Calls are served one at a time (Ray's default for an actor), each caller's batch whole.

Ray not started (``rlvr score``, ``rlvr eval``): a local runtime is started (``LOCAL_RAY_CPUS``, no
dashboard) rather than loading the model in this process, so that the deadline is a hard,
out-of-process limit for every caller and there is one code path.

Nothing here raises for a batch that failed: an exception in the actor, the actor's death and a missed
deadline (``timeout_s`` per generate batch of ``batch_size`` prompts, the wait behind other callers
included; ``load_timeout_s`` more for a fresh actor's load) are a ``Reply`` with status ``error`` or
``timeout`` and a reason for every item of the batch. After a death the next call creates a new actor.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from pathlib import Path

from verifiers.judge.backend import JudgeUnavailable, Reply, _short

ACTOR_CPUS = 1  # the actor's Ray CPUs and torch threads: on a GPU it only feeds the device; on CPU it is a tiny test judge
LOCAL_RAY_CPUS = 2  # a runtime started just for the judge (rlvr score / eval): the actor and a little room, not the whole machine


class JudgeModelError(ValueError):
    """The judge model directory cannot be loaded; the message names it."""


def check_judge_model_dir(path: str | Path) -> Path:
    """``path`` if it holds a Hugging Face model and its tokenizer (never a download); a ``JudgeModelError`` naming it."""
    path = Path(path)
    if not str(path) or not path.is_dir():
        raise JudgeModelError(f"{str(path)!r}: no such directory (backend local loads a model directory, never a hub id; the tiny judge is built by `rlvr train experiments/tiny_judge.yaml --out runs/tiny_judge`)")
    missing = [name for name in ("config.json", "tokenizer_config.json") if not (path / name).is_file()]
    if missing:
        raise JudgeModelError(f"{str(path)!r}: not a Hugging Face model directory with its tokenizer (no {', '.join(missing)})")
    return path


class LocalJudgeModel:
    """A chat model that answers judge prompts greedily: one user message each, decoded replies back, in order."""

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = str(check_judge_model_dir(path))
        if threads:
            torch.set_num_threads(threads)
        self.device = device
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32  # bf16 where the GPU has it; CPU kernels want fp32
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype, local_files_only=True).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        if self.tokenizer.pad_token is None:  # many checkpoints ship without one; batching needs it
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"  # every row's reply starts at the same column
        # Qwen3-style templates think unless told not to; a judge must answer with its verdict line, not a thought.
        self._render = {"enable_thinking": False} if "enable_thinking" in (self.tokenizer.chat_template or "") else {}

    def prompt(self, message: str) -> str:
        return self.tokenizer.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                                  add_generation_prompt=True, **self._render)

    def generate(self, messages: Sequence[str], *, batch_size: int, max_tokens: int) -> list[str]:
        """The reply to each message, special tokens removed; ``batch_size`` prompts per generate call."""
        import torch

        replies: list[str] = []
        for start in range(0, len(messages), batch_size):
            prompts = [self.prompt(m) for m in messages[start:start + batch_size]]
            batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                out = self.model.generate(**batch, max_new_tokens=max_tokens, do_sample=False,
                                          pad_token_id=self.tokenizer.pad_token_id)  # (B, T + new)
            new = out[:, batch["input_ids"].shape[1]:]  # (B, new): left padding puts every reply after column T
            replies += self.tokenizer.batch_decode(new, skip_special_tokens=True)
        return replies

    def ping(self) -> str:
        return self.path


class JudgeActor(LocalJudgeModel):
    """``LocalJudgeModel`` in a Ray actor: on the GPU Ray gave it, if any."""

    def __init__(self, path: str):
        import ray

        super().__init__(path, device="cuda" if ray.get_gpu_ids() else "cpu", threads=ACTOR_CPUS)


def actor_name(path: str | Path) -> str:
    """One name per model directory (resolved, so two spellings of one path share an actor)."""
    resolved = str(Path(path).resolve())
    return f"rlvr-judge-{Path(resolved).name}-{hashlib.sha1(resolved.encode()).hexdigest()[:10]}"


class LocalBackend:
    """``JudgeBackend`` over the shared ``JudgeActor`` for ``path``; see the module docstring for its failures."""

    def __init__(self, path: str, *, num_gpus: float = 0.0, batch_size: int = 8, max_tokens: int = 512,
                 timeout_s: float = 60.0, load_timeout_s: float = 600.0):
        self.path, self.num_gpus, self.batch_size, self.max_tokens = path, num_gpus, batch_size, max_tokens
        self.timeout_s, self.load_timeout_s = timeout_s, load_timeout_s
        self.name = actor_name(path)
        self._actor = None
        self._loaded = False  # this handle's actor has answered once: no load time in its deadlines any more

    def _handle(self):
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=LOCAL_RAY_CPUS, include_dashboard=False, log_to_driver=False, configure_logging=False)
        if self._actor is None:
            remote = ray.remote(JudgeActor).options(name=self.name, get_if_exists=True, num_cpus=ACTOR_CPUS,
                                                    num_gpus=self.num_gpus, max_restarts=0)
            self._actor, self._loaded = remote.remote(self.path), False
        return self._actor

    def complete(self, messages: Sequence[str]) -> list[Reply]:
        if not messages:
            return []
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        start = time.monotonic()
        deadline = self.timeout_s * math.ceil(len(messages) / self.batch_size) + (0 if self._loaded else self.load_timeout_s)
        where = f"judge actor {self.name} ({self.path})"
        ref = None
        try:
            ref = self._handle().generate.remote(list(messages), batch_size=self.batch_size, max_tokens=self.max_tokens)
            texts = ray.get(ref, timeout=deadline)
        except GetTimeoutError:
            ray.cancel(ref)  # best effort: dropped if still queued; a running generate cannot be interrupted
            reason = (f"{where} gave no reply to a batch of {len(messages)} within {deadline:g}s "
                      f"(timeout_s={self.timeout_s:g} per {self.batch_size} prompts{'' if self._loaded else ', and the load'})")
            return self._failed(messages, "timeout", reason, start)
        except RayActorError as exc:
            self._actor = None  # gone: the next call creates a new one under the same name
            return self._failed(messages, "error", f"{where} died: {_short(str(exc))}; the next batch starts a new one", start)
        except Exception as exc:  # a load or generate error in the actor (RayTaskError), Ray not starting...
            return self._failed(messages, "error", f"{where}: {type(exc).__name__}: {_short(str(exc), 300)}", start)
        self._loaded = True
        latency = time.monotonic() - start  # each reply waited for its whole batch
        return [Reply(text, "ok", "", latency) for text in texts]

    @staticmethod
    def _failed(messages: Sequence[str], status, reason: str, start: float) -> list[Reply]:
        return [Reply(None, status, reason, time.monotonic() - start) for _ in messages]

    def ping(self) -> list[str]:
        """``[path]`` once the directory is there and the actor answers (loading it if new); ``JudgeUnavailable`` otherwise."""
        import ray

        try:
            check_judge_model_dir(self.path)
            served = ray.get(self._handle().ping.remote(), timeout=self.timeout_s + (0 if self._loaded else self.load_timeout_s))
        except Exception as exc:
            if isinstance(exc, ray.exceptions.RayActorError):
                self._actor = None
            raise JudgeUnavailable(f"judge model {self.path}: {type(exc).__name__}: {_short(str(exc), 300)}") from exc
        self._loaded = True
        return [self.path] if served else []

    def close(self) -> None:
        self._actor = None  # this caller's handle: the actor stays while another caller holds one
