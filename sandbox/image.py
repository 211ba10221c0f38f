"""The sandbox image: Debian's python3 on a minimal root filesystem, nothing else.

Two recipes give the same contents, and one tag — a hash of both recipes — so a
changed recipe means a new tag and a stale image is never used by mistake:

* ``build_image(offline=False)``: a two-line Dockerfile; needs a container registry.
* ``build_image(offline=True)``: ``debootstrap --variant=minbase`` from a Debian
  mirror, then ``docker import``; needs root and debootstrap, no registry. CI uses it.

The supervisor and runner are not baked in: they travel in each container's
command, so editing them never requires a rebuild.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable

IMAGE_REPO = "rlvr-sandbox-python"
DEBIAN_SUITE = "bookworm"
PACKAGES = ("python3",)  # the interpreter and its standard library; test programs need no more
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Removed from the rootfs: documentation, locales and package caches no program needs.
TRIM_PATHS = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
              "var/cache/apt", "var/cache/debconf", "var/lib/apt/lists", "var/log")
IMAGE_CHANGES = ("ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV LANG=C.UTF-8", 'CMD ["python3"]')
DOCKERFILE = f"""FROM debian:{DEBIAN_SUITE}-slim
RUN apt-get update && apt-get install -y --no-install-recommends {' '.join(PACKAGES)} \\
 && rm -rf {' '.join('/' + p for p in TRIM_PATHS)}
ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
CMD ["python3"]
"""


def recipe_hash() -> str:
    recipe = {"suite": DEBIAN_SUITE, "packages": PACKAGES, "trim": TRIM_PATHS,
              "changes": IMAGE_CHANGES, "dockerfile": DOCKERFILE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def image_tag() -> str:
    """The tag of the image the current recipe builds; ``DockerSandbox`` uses it by default."""
    return os.environ.get("RLVR_SANDBOX_IMAGE") or f"{IMAGE_REPO}:{recipe_hash()}"


def image_exists(client, tag: str | None = None) -> bool:
    import docker.errors

    try:
        client.images.get(tag or image_tag())
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(*, offline: bool, client=None, mirror: str | None = None, force: bool = False,
                log: Callable[[str], None] = print) -> str:
    """Build the image for the current recipe unless it exists; returns its tag."""
    import docker

    client = client or docker.from_env()
    tag = image_tag()
    if not force and image_exists(client, tag):
        log(f"image {tag} is current; nothing to build")
        return tag
    if offline:
        _build_offline(client, tag, mirror or os.environ.get("RLVR_DEBIAN_MIRROR") or DEFAULT_MIRROR, log)
    else:
        _build_from_dockerfile(client, tag, log)
    log(f"built {tag}")
    return tag


def _build_from_dockerfile(client, tag: str, log: Callable[[str], None]) -> None:
    import io

    log(f"building {tag} from a Dockerfile (FROM debian:{DEBIAN_SUITE}-slim; needs a registry)")
    client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=tag, rm=True, pull=False)


def _build_offline(client, tag: str, mirror: str, log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise RuntimeError("offline build needs debootstrap: apt-get install -y debootstrap")
    if os.geteuid() != 0:
        raise RuntimeError("offline build runs debootstrap, which needs root")
    with tempfile.TemporaryDirectory(prefix="rlvr-rootfs-", dir="/var/tmp") as work:
        rootfs = os.path.join(work, "rootfs")
        log(f"debootstrap --variant=minbase {DEBIAN_SUITE} from {mirror} (about a minute)")
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                        DEBIAN_SUITE, rootfs, mirror], check=True, stdout=subprocess.DEVNULL)
        for rel in TRIM_PATHS:
            shutil.rmtree(os.path.join(rootfs, rel), ignore_errors=True)
            os.makedirs(os.path.join(rootfs, rel), exist_ok=True)
        tarball = os.path.join(work, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "-cf", tarball, "."], check=True)
        log(f"docker import as {tag}")
        repo, _, version = tag.rpartition(":")
        client.api.import_image(src=tarball, repository=repo, tag=version, changes=list(IMAGE_CHANGES))
