#!/usr/bin/env bash
# Every GPU check of issue 20 in one go, sized for a few minutes on one GPU: tests/test_gpu.py,
# training throughput (Spikformer-4-384 vs SpikingJelly's spikformer_cifar10(), both LIF
# backends, fp32 and AMP; fp32 again with TF32 matmuls) and the energy-measured search. Each part has its own time limit and
# a failing part does not stop the others. Results go to benchmarks/results/ and, with OUT set,
# are copied there with the test log.
#     OUT=/tmp/gpu bash benchmarks/gpu_checks.sh
set -uo pipefail
OUT=${OUT:-}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, triton, spikingjelly; print('torch', torch.__version__, 'triton', triton.__version__, 'cuda', torch.version.cuda)"

timeout 150 python3 -m pytest -rA -p no:cacheprovider tests/test_gpu.py tests/test_amp.py 2>&1 | tee ${OUT:+$OUT/gpu_tests.txt}
echo "test_gpu exit ${PIPESTATUS[0]}"

timeout 120 python3 -m benchmarks.bench_train throughput --device cuda --depth 4 --dims 384 --heads 12 \
    --batch-size 128 --precisions fp32 amp --warmup 2 --repeats 5 --steps 3
echo "bench_train exit $?"
timeout 60 python3 -m benchmarks.bench_train throughput --device cuda --depth 4 --dims 384 --heads 12 \
    --batch-size 128 --precisions fp32 --warmup 2 --repeats 5 --steps 3 --tf32
echo "bench_train --tf32 exit $?"

timeout 120 python3 -m benchmarks.bench_gpu_search --device cuda --archs 5 --repeats 3 --cpu-archs 2 --candidates 200
echo "bench_gpu_search exit $?"

if [ -n "$OUT" ]; then
    cp benchmarks/results/train_throughput_cuda*.json benchmarks/results/search_cuda.json "$OUT"/ 2>/dev/null
fi
exit 0
