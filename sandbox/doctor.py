"""``rlvr sandbox doctor``: is the engine up, the image current, the pool healthy?

Each check is a row (name, ok, detail) and stops the later ones when it fails, so
the first BAD line is the thing to fix.
"""
from __future__ import annotations

import statistics
import time


def _row(name: str, ok: bool, detail: str) -> dict:
    return {"name": name, "ok": ok, "detail": detail}


def diagnose(pool_size: int = 2, samples: int = 20) -> dict:
    from sandbox.docker_sandbox import DockerSandbox, connect, orphaned_containers
    from sandbox.image import image_tag

    checks = []
    try:
        client = connect()
        version = client.version()
        checks.append(_row("engine", True, f"Docker {version.get('Version')} (API {version.get('ApiVersion')}), "
                                           f"{version.get('Os')}/{version.get('Arch')}"))
    except Exception as exc:
        return {"checks": [_row("engine", False, str(exc))]}

    from docker.errors import ImageNotFound

    tag = image_tag()
    try:
        image = client.images.get(tag)
        checks.append(_row("image", True, f"{tag}, {image.attrs.get('Size', 0) / 1e6:.0f} MB, "
                                          f"created {image.attrs.get('Created', '?')[:19]}"))
    except ImageNotFound:
        checks.append(_row("image", False, f"{tag} not found: run `rlvr sandbox build-image --offline`"))
        return {"checks": checks}
    except Exception as exc:  # the engine answered but could not say: that is not a missing image
        checks.append(_row("image", False, f"could not inspect {tag}: {type(exc).__name__}: {exc}"))
        return {"checks": checks}

    stale = len(orphaned_containers(client))
    started = time.monotonic()
    try:
        box = DockerSandbox(size=pool_size, client=client)
    except Exception as exc:
        checks.append(_row("pool", False, f"could not start: {exc}"))
        return {"checks": checks}
    with box:
        startup = time.monotonic() - started
        good, bad = box.run("print('ok')"), box.run("assert False")
        latencies = []
        for _ in range(samples):
            t = time.monotonic()
            box.run("pass")
            latencies.append(time.monotonic() - t)
        health = box.health()
    sane = good.passed and good.stdout == "ok\n" and bad.status == "failed"
    checks.append(_row("pool", sane, f"{pool_size} containers up in {startup:.2f}s; trivial run p50 "
                                     f"{statistics.median(latencies) * 1e3:.1f} ms; pass/fail judged "
                                     f"{'correctly' if sane else f'WRONGLY ({good.status}/{bad.status})'}; "
                                     f"last fault: {health['last_error'] or 'none'}"))
    checks.append(_row("orphans", True, f"{stale} container(s) of dead callers found and removed" if stale
                       else "no containers of dead callers"))
    return {"checks": checks}
