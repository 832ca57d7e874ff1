#!/usr/bin/env bash
# How the shipped models were trained (2 CPU cores: one thread each for the diffusion model and the AR
# baseline, run side by side so both get the same CPU time). Resumable: rerun the same command.
# Usage: scripts/train_shipped.sh diffusion|ar PRETRAIN_MIN FINETUNE_MIN
set -euo pipefail
arch=${1:?diffusion or ar}; pre_min=${2:-30}; ft_min=${3:-85}
cd "$(dirname "$0")/.."
bin=.venv/bin/codefusion
runs=runs/$arch
export OMP_NUM_THREADS=1
tok_args=()
if [ "$arch" = ar ]; then
  # The tokenizer is trained once (by the diffusion run) and shared, so both models see the same tokens.
  while [ ! -f runs/diffusion/pretrain/tokenizer.json ]; do sleep 5; done
  tok_args=(--tokenizer runs/diffusion/pretrain/tokenizer.json)
fi
$bin train pretrain --arch "$arch" --run "$runs/pretrain" --minutes "$pre_min" --threads 1 --batch 32 \
  --eval-every 400 "${tok_args[@]}"
$bin train finetune --run "$runs/finetune" --init "$runs/pretrain/model" --minutes "$ft_min" --threads 1 \
  --batch 32 --eval-every 400 --pretrain-mix 0.15 --lr 3e-4 --warmup 100
