"""Real judge servers on loopback for the judge tests and benchmark: no mocks of the client.

``build_judge_model`` makes a tiny Qwen2 model and, when given a reply, trains it for a few dozen steps
(a plain torch loop) to answer every judge prompt with that reply; ``served_model`` runs
``transformers serve`` on it (CPU, offline) until the block ends. ``StubJudgeServer`` is a stdlib HTTP
server speaking just enough of ``/v1/chat/completions`` to fail on purpose (503s, slow replies) and to
count what it received and how many requests were in flight at once.

    with served_model(build_judge_model(tmp / "yes", reply="VERDICT: YES")) as base_url: ...
    with StubJudgeServer(fail_first=2) as stub: stub.base_url, stub.requests, stub.max_in_flight
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from verifiers.judge.prompt import fill_template, load_template

# Small enough to train in seconds on a shared CPU, long enough for a filled template (about 400 tokens).
JUDGE_SIZES = dict(hidden=32, intermediate=64, layers=1, heads=2, kv_heads=1, vocab_size=384, max_positions=1024)
EXAMPLES = [("What is 2 + 3?", "5", "<think>2 + 3 = 5</think> 5"), ("Name the capital of France.", "Paris", "Paris"),
            ("What is 7 * 6?", "42", "The answer is 41."), ("Solve x + 1 = 3.", "", "x = 2")]


def serve_command() -> str | None:
    """The ``transformers`` console script beside this interpreter (or on PATH), if installed with serving."""
    here = Path(sys.executable).parent / "transformers"
    found = str(here) if here.is_file() else shutil.which("transformers")
    if found is None:
        return None
    try:
        import fastapi  # noqa: F401 - the serving extra
        import uvicorn  # noqa: F401
    except ImportError:
        return None
    return found


def judge_messages() -> list[str]:
    """The filled built-in templates for a few examples: what the tests will send."""
    with_ref, without_ref = load_template("with_reference"), load_template("without_reference")
    return [fill_template(with_ref if ref else without_ref, question=q, reference=ref, response=r) for q, ref, r in EXAMPLES]


def build_judge_model(out_dir: Path, reply: str | Mapping[str, str] | None = None, *, steps: int = 80, seed: int = 0) -> Path:
    """A tiny chat model saved with its tokenizer; trained, when given ``reply``, to answer it to any judge prompt,
    or given {message: reply}, to answer each of those messages with its own reply (a judge whose replies differ)."""
    import torch

    from rl.engine.policy import build_tiny_model, load_policy

    together = isinstance(reply, Mapping)  # replies that differ are learnt together (every row each step) or not at all
    pairs = dict(reply) if together else {m: reply for m in judge_messages() + ["Is 1 + 1 = 2?", ":"]} if reply is not None else {}
    texts = judge_messages() + ["VERDICT: YES", "VERDICT: NO", "SCORE: 7"] * 4 + ([*pairs, *pairs.values()] if together else [])
    path = build_tiny_model(out_dir, texts, seed=seed, **JUDGE_SIZES)
    if not pairs:
        return path
    model, tokenizer = load_policy(path, device="cpu", trainable=True)
    model.train()
    rows = []
    for message, answer in pairs.items():
        # Both renderings: thinking on (as `transformers serve` renders) and off (as the local backend does).
        for thinking in (True, False):
            prompt = tokenizer.apply_chat_template([{"role": "user", "content": message}], tokenize=False,
                                                   add_generation_prompt=True, enable_thinking=thinking)
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            target_ids = tokenizer(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
            rows.append((torch.tensor([prompt_ids + target_ids]), torch.tensor([[-100] * len(prompt_ids) + target_ids])))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(seed)
    for step in range(steps):
        batch = rows if together else [rows[step % len(rows)]]  # one reply: one long judge prompt a step is enough
        loss = sum(model(input_ids=ids, labels=labels).loss for ids, labels in batch)  # the reply's tokens only
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s:g}s")


@contextmanager
def served_model(model_dir: Path, *, log_path: Path | None = None, startup_s: float = 180.0, extra_args: tuple[str, ...] = ()):
    """``transformers serve`` on ``model_dir`` at a free loopback port, CPU and offline; yields its /v1 base URL."""
    command = serve_command()
    if command is None:
        raise RuntimeError("`transformers serve` is not installed (pip install 'transformers[serving]')")
    port = free_port()
    log = open(log_path or os.devnull, "w")
    process = subprocess.Popen(
        [command, "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--log-level", "warning",
         *extra_args],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", startup_s, process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and nothing else
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


class StubJudgeServer:
    """A loopback HTTP server answering chat completions with ``reply``: the first ``fail_first`` requests get a
    ``fail_status``, each answer waits ``delay_s``. Counts requests and the most in flight at once."""

    def __init__(self, reply: str = "VERDICT: YES", *, fail_first: int = 0, fail_status: int = 503, delay_s: float = 0.0,
                 model: str = "stub-judge"):
        self.reply, self.fail_first, self.fail_status, self.delay_s, self.model = reply, fail_first, fail_status, delay_s, model
        self.requests = self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: the test output is what matters
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model", "created": 0, "owned_by": "test"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stub.lock:
                    stub.requests += 1
                    number = stub.requests
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    time.sleep(stub.delay_s)
                    if number <= stub.fail_first:
                        self._send(stub.fail_status, {"error": {"message": "overloaded, try again", "type": "server_error"}})
                        return
                    self._send(200, {"id": f"c{number}", "object": "chat.completion", "created": 0, "model": stub.model,
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": stub.reply}}]})
                finally:
                    with stub.lock:
                        stub.in_flight -= 1

        return Handler

    def __enter__(self) -> StubJudgeServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
