#!/usr/bin/env bash
# Issue 14's GPU checks in one call of the device tool (one H200), each part under its own timeout,
# results under $OUT (8 files at most come back: summary.txt (environment first), a log per part, logs.tgz).
#
#   device command (carry [".devbundle"], timeout_s 600; build the bundle here first:
#   bash ../shared/device/make_bundle.sh):
#     source .devbundle/setup.sh; bash benchmarks/device/run_gpu_checks.sh
#   here, on CPU, the same flow with CPU stand-ins (tiny model, --cpu --quick; GPU tests skip):
#     bash benchmarks/device/run_gpu_checks.sh --dry
#
# Parts, in order of importance; a part starts only if the time it needs is left of BUDGET_S:
#   tests      the gpu-marked tests of the rollout backends (CUDA-graph and compiled decode steps vs generate,
#              sampler vs learner log-probs, bf16 and autocast)
#   backend    benchmarks/rollout_backend_bench.py, 0.5B shape, bf16: hf vs static generate of 16 x 8 x 64
#              tokens; greedy agreement and the sampler-vs-learner log-prob gap on CUDA
#   grpo05     benchmarks/gpu_grpo_bench.py --models 0.5b: rlvr (colocated, static) vs TRL bf16 and fp32+autocast
#   others     every other gpu-marked test in tests/ (colocation, weight sync, FSDP/LoRA)
#   grpo15     the same GRPO bench for the 1.5B shape
#   memory     gpu_grpo_bench.py --memory (benchmarks/gpu_memory.py: the FSDP/LoRA memory map), if that file exists
#   compile    rollout_backend_bench.py, static vs static_compile (torch.compile takes a minute or more to build)
# One round per GRPO bench: the machine is not shared, and the budget buys the 1.5B shape instead of a second round.
# Environment: BUDGET_S (default 540: the whole script; give the device call timeout_s 600),
#              PARTS (default "tests backend grpo05 others grpo15 memory compile").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DRY=0; [[ ${1:-} == --dry ]] && DRY=1
OUT=${OUT:-/tmp/gpu_checks}; mkdir -p "$OUT"
BUDGET_S=${BUDGET_S:-540}
PARTS=${PARTS:-tests backend grpo05 others grpo15 memory compile}
PY=python3; [[ $DRY == 1 && -x .venv/bin/python ]] && PY=.venv/bin/python
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false RAY_USAGE_STATS_ENABLED=0
SCRATCH=$(mktemp -d /tmp/gpu_checks.XXXXXX)
START=$(date +%s)
left() { echo $((BUDGET_S - ($(date +%s) - START))); }
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }

# part NAME NEEDS_S MAX_S CMD...: run CMD under `timeout` (at most MAX_S, never past the budget), log to $OUT/NAME.log
part() {
  local name=$1 needs=$2 max=$3; shift 3
  [[ " $PARTS " == *" $name "* ]] || return 0
  local l; l=$(left)
  if ((l < needs)); then summary "$name: SKIPPED (${l}s left, needs ${needs}s)"; return 0; fi
  local limit=$((max < l ? max : l)) t0; t0=$(date +%s)
  echo "=== $name (limit ${limit}s): $*"
  timeout -k 15 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  summary "$name: rc=$rc in $(($(date +%s) - t0))s | $(grep -E '^(rollout_backend_bench|gpu_grpo_bench):| passed| failed| skipped| error' "$OUT/$name.log" | tail -n 1)"
}

{ date; nvidia-smi -L 2>&1; nvidia-smi --query-gpu=memory.used,memory.total --format=csv 2>&1
  $PY -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'transformers', transformers.__version__)"
  $PY -c "import trl, ray; print('trl', trl.__version__, 'ray', ray.__version__)" 2>&1; } > "$OUT/summary.txt" 2>&1
cat "$OUT/summary.txt"

TESTS=(-p no:cacheprovider -q -m gpu -rs --durations=8)
part tests 60 200 $PY -m pytest "${TESTS[@]}" tests/test_rollout_backends.py
if [[ $DRY == 1 ]]; then
  part backend 30 300 $PY benchmarks/rollout_backend_bench.py --shape tiny --device cpu --backends hf,static --rounds 1
  part grpo05 60 400 $PY benchmarks/gpu_grpo_bench.py --cpu --quick --scratch "$SCRATCH/grpo05"
else
  part backend 60 150 $PY benchmarks/rollout_backend_bench.py --shape 0.5b --device cuda --backends hf,static --rounds 3
  part grpo05 120 240 $PY benchmarks/gpu_grpo_bench.py --models 0.5b --steps 6 --rounds 1 --side-timeout 150 --scratch "$SCRATCH/grpo05"
fi
part others 45 120 $PY -m pytest "${TESTS[@]}" tests --ignore=tests/test_rollout_backends.py
if [[ $DRY == 1 ]]; then
  summary "grpo15, memory, compile: not run in --dry (the first two need the GPU's memory; CPU runs static_compile eagerly)"
else
  part grpo15 180 300 $PY benchmarks/gpu_grpo_bench.py --models 1.5b --steps 5 --rounds 1 --side-timeout 200 --scratch "$SCRATCH/grpo15"
  [[ -f benchmarks/gpu_memory.py ]] && part memory 90 200 $PY benchmarks/gpu_grpo_bench.py --memory --budget-s 170
  part compile 90 150 $PY benchmarks/rollout_backend_bench.py --shape 0.5b --device cuda --backends static,static_compile --rounds 2
fi
tar -czf "$OUT/logs.tgz" -C "$SCRATCH" . 2>/dev/null
rm -rf "$SCRATCH"
summary "total $(($(date +%s) - START))s of ${BUDGET_S}s; files: $(ls "$OUT" | tr '\n' ' ')"
