"""benchmarks/gpu_memory.py's CPU smoke mode: the memory map's machinery (a subprocess per configuration,
the table, the summary line) on a tiny shape. The GPU figures come from the same script on the device."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_memory.py"


def test_cpu_quick_map_runs_lora_and_two_sharded_learners(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gpu_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--cpu", "--quick", "--shapes", "tiny-a", "--modes", "lora,fsdp_offload", "--json", str(tmp_path / "m.json")])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("gpu_memory: CPU") and "2/2 configurations run, 2 fit" in out[-1]
    assert any(line.startswith("| tiny-a |") for line in out)
    results = (tmp_path / "m.json").read_text()
    assert '"tiny-a/lora"' in results and '"learners": 2' in results
