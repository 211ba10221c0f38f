"""Shared by the Docker-marked tests: get a sandbox, or skip (or fail) saying why not."""
from __future__ import annotations

import os

import pytest


def docker_required() -> bool:
    """CI sets RLVR_REQUIRE_DOCKER=1 after .ci/docker.sh: there a missing engine is a failure."""
    return os.environ.get("RLVR_REQUIRE_DOCKER") == "1"


def docker_sandbox_or_skip(**kwargs):
    from sandbox import DockerSandbox, SandboxUnavailable

    try:
        return DockerSandbox(**kwargs)
    except SandboxUnavailable as exc:
        if docker_required():
            pytest.fail(f"RLVR_REQUIRE_DOCKER=1 but the Docker sandbox is unavailable: {exc}")
        pytest.skip(f"Docker sandbox unavailable ({exc}); run `bash .ci/docker.sh` to set it up")
