"""The run's lineage: what produced these weights, written to ``OUT/manifest.json``.

Resolved config, git revision of the code, versions of the packages that shape the
numbers, version of every verifier the data routes to, hashes of the data, and the
results of each stage as it finishes — enough to tell two runs apart after the fact.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from rl.config import ExperimentConfig
from rl.config.build import config_to_dict
from rl.data.records import Prompt
from verifiers import get_verifier

PACKAGES = ("rlvr", "torch", "transformers", "trl", "ray", "sympy", "pebble")


def write_manifest(path: Path, config: ExperimentConfig, train: Sequence[Prompt], heldout: Sequence[Prompt]) -> dict:
    manifest = {
        "config": config_to_dict(config),
        "git": _git_revision(),
        "packages": {name: _version(name) for name in PACKAGES},
        "python": sys.version.split()[0],
        "verifiers": {name: _verifier_version(name) for name in sorted({p.verifier for p in [*train, *heldout]})},
        "data": {"train": prompts_fingerprint(train), "heldout": prompts_fingerprint(heldout),
                 "train_count": len(train), "heldout_count": len(heldout)},
        "stages": {},
    }
    _write(path, manifest)
    return manifest


def record_stage(path: Path, stage: str, results: dict[str, Any]) -> None:
    """Add (or replace) one stage's results in an existing manifest."""
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["stages"][stage] = results
    _write(path, manifest)


def _write(path: Path, manifest: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _git_revision() -> dict[str, Any] | None:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None  # installed from a wheel, not a checkout
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _verifier_version(name: str) -> str | None:
    fn = get_verifier(name)
    return getattr(fn, "VERSION", None) or getattr(sys.modules.get(fn.__module__), "VERSION", None)


def prompts_fingerprint(prompts: Sequence[Prompt]) -> str:
    """16 hex digits identifying a prompt set (ids, text, references, verifiers, solutions)."""
    digest = hashlib.sha256()
    for p in prompts:
        digest.update(json.dumps([p.id, p.text, p.messages, p.reference, p.verifier, p.solution, p.mode], default=str).encode())
    return digest.hexdigest()[:16]
