#!/usr/bin/env bash
# One GPU lease, one prepared script (issue #13): measure the training step per resolution and
# speed switch on colab-64, then train colab-64 from scratch with the pure-speed switches until
# a time limit stops it (Ctrl-C path: a checkpoint is written), and bring back what a later
# session needs to continue it. Smoke-test it on the CPU first:
#   OUT=/tmp/gpu-out DEVICE=cpu CONFIG=cpu-tiny TRAIN_SECONDS=20 BENCH_RES=4,8 bash benchmarks/gpu_session.sh
# On the device machine ($OUT is set there):
#   bash benchmarks/gpu_session.sh
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
OUT=${OUT:-/tmp/gpu-out}   # what comes back: results.tgz and the checkpoint in parts (8 files at most)
DEVICE=${DEVICE:-cuda}
CONFIG=${CONFIG:-colab-64}
BENCH_RES=${BENCH_RES:-4,16,64}
BENCH_VARIANTS=${BENCH_VARIANTS:-default,tf32,fused_adam,data_on_device,channels_last,fast,r1_every_4,r1_every_16,batch_x2,batch_x4}
TRAIN_SECONDS=${TRAIN_SECONDS:-330}
RUN=${RUN:-/tmp/run-$CONFIG}
PY=${PY:-python3}
WORK=$(mktemp -d)           # small results, packed into $OUT/results.tgz at the end
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$WORK/session.log"; }
pack() { cp "$RUN/log.jsonl" "$WORK/" 2>/dev/null; cp "$RUN/losses.png" "$WORK/" 2>/dev/null
         last=$(ls "$RUN"/samples/fakes-*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" "$WORK/fakes-last.png"
         tar czf "$OUT/results.tgz" -C "$WORK" .; }

log "start on $(hostname)"
{ nvidia-smi 2>/dev/null || echo "no nvidia-smi"; $PY -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version(), 'cuda', torch.cuda.is_available())"; } > "$WORK/machine.txt" 2>&1

log "drawing the faces at 64² (cached for the runs below)"
/usr/bin/time -f "%e s" $PY -c "from stylegan_tutorial.data.dataset import open_dataset; print(open_dataset('faces', 64))" 2>&1 | tee -a "$WORK/session.log"

log "training step per resolution and switch"
timeout 200 $PY benchmarks/bench_training.py --device "$DEVICE" --config "$CONFIG" --steps 10 --warmup 3 \
    --resolutions "$BENCH_RES" --variants "$BENCH_VARIANTS" 2>&1 | tee "$WORK/bench.md"

log "training $CONFIG for at most $TRAIN_SECONDS s (tf32, fused Adam, data on the device)"
SPEED="--data-on-device"
[ "$DEVICE" = cuda ] && SPEED="--tf32 --fused-adam --data-on-device"
timeout -s INT "$TRAIN_SECONDS" $PY -m stylegan_tutorial train --config "$CONFIG" --out "$RUN" \
    --resume auto --kimg 3000 --tick-kimg 10 --snapshot-kimg 50 --keep-last 1 --no-progress \
    --device "$DEVICE" $SPEED 2>&1 | tail -5 | tee -a "$WORK/session.log"
log "training stopped"

ckpt=$(ls "$RUN"/checkpoint-*.safetensors 2>/dev/null | tail -1)
if [ -n "$ckpt" ]; then
  log "evaluating $(basename "$ckpt") (fd, kid; 2000 images)"
  timeout 90 $PY -m stylegan_tutorial evaluate --checkpoint "$ckpt" --metrics fd,kid --device "$DEVICE" \
      --out "$WORK/metrics.json" --no-progress 2>&1 | tail -4 | tee -a "$WORK/session.log"
  sha256sum "$ckpt" | tee "$WORK/checkpoint.sha256"
  split -b 15M -d "$ckpt" "$OUT/ckpt.part"   # files come back at most 16 MiB each
fi
pack

if [ "$DEVICE" = cuda ]; then
  log "torch.compile of the synthesis network at the top resolution (its first calls compile)"
  timeout 100 $PY benchmarks/bench_training.py --device cuda --config "$CONFIG" --steps 10 --warmup 3 \
      --resolutions "${BENCH_RES##*,}" --variants compile 2>&1 | tee "$WORK/bench-compile.md"
fi
log "done"; pack; ls -l "$OUT"
