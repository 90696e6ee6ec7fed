#!/usr/bin/env bash
# One prepared device-machine check (see bench/GPU.md): a quick CUDA build of the whole site on full MNIST (alone,
# with a stack dump every 20 s), then the reader sweep on the full-MNIST validation split. Expects .gpu/mnist (the
# four IDX files) and .gpu/ort (the four onnxruntime-web files the site vendors), carried; writes under $OUT.
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p node_modules/onnxruntime-web/dist && cp .gpu/ort/* node_modules/onnxruntime-web/dist/
start=$(date +%s)
timeout "${BUILD_LIMIT:-80}" python3 -c "
import faulthandler, runpy, sys
faulthandler.dump_traceback_later(20, repeat=True)
sys.argv = ['build.py', 'build', '--quick', '--device', 'cuda', '--data', '.gpu/mnist', '--out', '/tmp/site',
            '--cache', '/tmp/models']
runpy.run_path('build.py', run_name='__main__')" > "$OUT/build.log" 2>&1
echo "quick CUDA build: rc $? in $(( $(date +%s) - start )) s"
tr '\r' '\n' < "$OUT/build.log" | grep -v '/s\]$' | grep -v '^ *$' | grep -v '^  File "/usr\|^  File "/opt' | tail -60
python3 bench/reader_sweep.py --device cuda --workers "${WORKERS:-12}" --seeds 0 1 2 --deadline "${DEADLINE:-240}" \
    --recipes ${RECIPES:-base deep5 deep28} --data .gpu/mnist --results "$OUT/sweep.jsonl" \
    > "$OUT/sweep.log" 2>&1
echo "sweep rows: $(wc -l < "$OUT/sweep.jsonl")"; cut -c1-160 "$OUT/sweep.jsonl"
