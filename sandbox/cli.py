"""``rlvr sandbox``: run a file in the sandbox, build its image, check its health.

``add_sandbox_commands(subparsers)`` adds the command to an argparse parser; each
action's defaults carry ``run`` (and ``func``, the same function): ``(args) -> exit code``.
Heavy imports happen inside the actions so that ``rlvr --help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SANDBOX_EXAMPLES = """\
  rlvr sandbox build-image --offline       # once per machine: Debian's python3, no registry needed
  rlvr sandbox doctor                      # is the engine up, the image current, the pool healthy?
  rlvr sandbox run solution.py             # run a file in a locked-down container
  rlvr sandbox run solution.py --stdin input.txt --timeout 2 --json

The program runs with no network, a read-only root, a private 64 MiB /tmp, as
uid 65534 with no capabilities, under memory, process, CPU, time and output
limits. "passed" means it ran to its last line; append tests to make that mean
something, or give them with --tests: they then run in a process of their own, as
another user, and get only plain data from the program. The threat model is in
sandbox/__init__.py.
"""

RUN_EXAMPLES = """\
  rlvr sandbox run solution.py
  rlvr sandbox run solution.py --stdin tests/case1.in --timeout 2
  rlvr sandbox run solution.py --json | jq .status
  rlvr sandbox run solution.py --tests tests.py   # tests apart: their own process, plain data from the program
  rlvr sandbox run trusted.py --local      # no Docker: subprocess + rlimits, NOT isolated

The program's stdout and stderr are replayed on ours; a status line follows on
stderr (or one JSON object on stdout with --json). Exit code: 0 passed,
1 did not pass (failed, timeout, memory, output_limit), 2 sandbox unavailable or faulty.
"""

BUILD_EXAMPLES = """\
  rlvr sandbox build-image --offline                  # debootstrap + docker import (root, debootstrap)
  rlvr sandbox build-image                            # docker build FROM debian:bookworm-slim (needs a registry)
  rlvr sandbox build-image --offline --mirror http://mirror.example/debian
  RLVR_SANDBOX_IMAGE=my/image:tag rlvr sandbox doctor # use an image of your own

The tag is a hash of the recipe, so an existing image is current and the build is
skipped unless --force.
"""

DOCTOR_EXAMPLES = """\
  rlvr sandbox doctor
  rlvr sandbox doctor --json

Checks, in order: the Docker engine answers; the sandbox image exists; a pool
starts, runs a trivial program and a failing one correctly; orphaned containers.
Exit code 0 when all is well, 1 otherwise.
"""


def _parser(subparsers, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, help=summary, description=summary, epilog="examples:\n" + examples,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def _defaults(p: argparse.ArgumentParser, fn) -> None:
    p.set_defaults(run=fn, func=fn)


def add_sandbox_commands(subparsers) -> None:
    """Add ``sandbox`` with its actions ``run``, ``build-image`` and ``doctor``."""
    p = _parser(subparsers, "sandbox", "Run untrusted Python in locked-down containers.", SANDBOX_EXAMPLES)
    actions = p.add_subparsers(dest="sandbox_action", metavar="ACTION")
    _defaults(p, lambda args: (p.print_help(sys.stderr), 2)[1])

    run = _parser(actions, "run", "Run one Python file in the sandbox and report how it ended.", RUN_EXAMPLES)
    run.add_argument("file", type=Path, metavar="FILE", help="the Python program (tests appended, if any)")
    run.add_argument("--tests", type=Path, metavar="F", help="tests to run in a process of their own against it (threat model, 10)")
    run.add_argument("--allow-objects", action="store_true",
                     help="with --tests: results may be objects; they stay with the program, the tests hold handles")
    run.add_argument("--mutates", action="store_true",
                     help="with --tests: the program's copy of each argument is copied back after each call")
    run.add_argument("--stdin", type=Path, metavar="F", help="file fed to the program's stdin")
    run.add_argument("--timeout", type=float, default=10.0, metavar="S", help="wall-clock limit in seconds (default: %(default)s)")
    run.add_argument("--json", action="store_true", help="print the whole result as one JSON object instead")
    run.add_argument("--local", action="store_true", help="no Docker: LocalSandbox, which isolates NOTHING")
    _defaults(run, run_file)

    build = _parser(actions, "build-image", "Build the sandbox image for the current recipe.", BUILD_EXAMPLES)
    build.add_argument("--offline", action="store_true", help="debootstrap from a Debian mirror; no container registry")
    build.add_argument("--mirror", metavar="URL", help="Debian mirror for --offline (default: $RLVR_DEBIAN_MIRROR or deb.debian.org)")
    build.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    _defaults(build, build_image)

    doctor = _parser(actions, "doctor", "Report Docker engine, image and pool health.", DOCTOR_EXAMPLES)
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    _defaults(doctor, run_doctor)


def run_file(args: argparse.Namespace) -> int:
    try:
        code = args.file.read_text()
        stdin = args.stdin.read_text() if args.stdin else None
        tests = args.tests.read_text() if args.tests else None
    except OSError as exc:
        print(f"rlvr sandbox run: {exc}", file=sys.stderr)
        return 2
    try:
        box = _open_sandbox(local=args.local)
    except Exception as exc:
        print(f"rlvr sandbox run: {exc}", file=sys.stderr)
        return 2
    with box:
        result = box.run(code, stdin=stdin, timeout_s=args.timeout, tests=tests, plain_results=not args.allow_objects,
                         mutates=args.mutates)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        cut = " (output cut)" if result.stdout_truncated or result.stderr_truncated else ""
        print(f"[sandbox {result.sandbox_id}] {result.status}: {result.detail}; exit code {result.exit_code}, "
              f"{result.duration_s:.3f}s{cut}", file=sys.stderr)
    return 0 if result.passed else 2 if result.status == "sandbox_error" else 1


def _open_sandbox(*, local: bool):
    if local:
        from sandbox.local_sandbox import LocalSandbox

        return LocalSandbox(unsafe=True, size=1)
    from sandbox import DockerSandbox

    return DockerSandbox(size=1)


def build_image(args: argparse.Namespace) -> int:
    from sandbox.image import build_image as build

    try:
        build(offline=args.offline, mirror=args.mirror, force=args.force,
              log=lambda line: print(f"build-image: {line}", file=sys.stderr))
    except Exception as exc:
        print(f"rlvr sandbox build-image: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from sandbox.doctor import diagnose

    report = diagnose()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for check in report["checks"]:
            print(f"{'ok ' if check['ok'] else 'BAD'}  {check['name']:<8} {check['detail']}")
    return 0 if all(c["ok"] for c in report["checks"]) else 1
