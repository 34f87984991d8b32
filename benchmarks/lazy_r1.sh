#!/bin/bash
# Lazy R1 on the faces (issue #13): cpu-tiny's whole 80-kimg schedule with R1 at every D step and
# at every 16th (16x as strong, StyleGAN2's interval), two seeds, then the same metrics for each.
# The two runs of a seed train side by side, one thread each, so they share the machine's load.
# Usage: bash benchmarks/lazy_r1.sh [OUT_DIR]   (default /tmp/lazy; about 40 min on 2 cores)
set -euo pipefail
OUT=${1:-/tmp/lazy}
ST=${STYLEGAN_TUTORIAL:-.venv/bin/stylegan-tutorial}
mkdir -p "$OUT"
for seed in 0 1; do
  for k in 1 16; do
    OMP_NUM_THREADS=1 $ST train --config cpu-tiny --out "$OUT/k$k-s$seed" --seed $seed --r1-interval $k \
      --resume auto --no-progress --snapshot-kimg 20 --keep-last 1 > "$OUT/k$k-s$seed.log" 2>&1 &
  done
  wait
done
for seed in 0 1; do
  for k in 1 16; do
    OMP_NUM_THREADS=2 $ST evaluate --checkpoint "$OUT/k$k-s$seed" --metrics fd,kid,swd,coverage \
      --no-progress > "$OUT/eval-k$k-s$seed.txt" 2>&1
  done
done
grep -H -E "^(fd|kid|swd.mean|coverage.covered) " "$OUT"/eval-*.txt
