#!/bin/sh
# The README's first command: install what the build needs, build, and
# answer the question vramfit exists for on a built-in example: does a
# Llama-2-7B QLoRA r16 run at 2048 tokens fit a 6 GB laptop GPU?
set -eu
cd "$(dirname "$0")/.."
VF_WITH_SANITIZERS=0 ./scripts/deps.sh
make >/dev/null
set +e
./build/vramfit estimate --model meta-llama/Llama-2-7b-hf --method qlora \
	--quant nf4-dq --lora-r 16 --seq 2048 --batch 1 --grad-accum 16 \
	--grad-ckpt --optim paged-adamw-8bit --vram 6
rc=$?
# Exit 1 means "does not fit", an answer rather than a failure.
[ "$rc" -le 1 ] && exit 0
exit "$rc"
