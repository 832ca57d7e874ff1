#!/usr/bin/env bash
# One prepared call for a GPU machine (issue 20: "where a GPU machine is available, train there at batch ≥ 256"):
# the AR baseline from scratch, then the masked model adapted from it (N's attention annealed from causal to
# full), both with the masked winner's recipe at batch 256, each stopping at its step count or time cap.
# Everything comes back as one split archive in $OUT (the device tool returns at most 8 files of 16 MiB).
#
# From a developer session that was lent a GPU (the working tree is ~61 MiB of the 64 MiB that travels, so the
# AR is trained there rather than carried; tree-sitter's wheels travel in .whl, see the device README):
#   run(command="bash scripts/gpu_train.sh", carry=[".whl"], timeout_s=590)
# then here:  cat <files_at>/gpu-runs.tgz.part-* | tar xz -C runs/   (runs/gpu-runs/{ar,masked}/…)
# and score:  .venv/bin/python scripts/bakeoff.py runs/gpu-runs/masked/model
#             codefusion eval --system ar-beam --ar-model runs/gpu-runs/ar/model --lang bash --limit 100
# A CPU smoke test of the whole script (seconds of training):
#   OUT=/tmp/gpu-smoke PY=.venv/bin/python AR_STEPS=2 MASKED_STEPS=2 BATCH=4 EVAL=2 bash scripts/gpu_train.sh
set -euo pipefail
out=${OUT:?set OUT: the folder whose files come back}
py=${PY:-python3}
batch=${BATCH:-256}
lr=${LR:-1e-3}
evals=${EVAL:-250}
cd "$(dirname "$0")/.."
if ! "$py" -c "import tree_sitter_bash, tree_sitter_python" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
# the checkout as the codefusion package, without installing it
pkg=$(mktemp -d)
mkdir "$pkg/codefusion"
ln -s "$PWD/model" "$pkg/codefusion/model"
ln -s "$PWD/server" "$pkg/codefusion/server"
export PYTHONPATH=$pkg${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
runs=$(mktemp -d)/gpu-runs
read -r torch_version device < <("$py" -c "import torch; print(torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')")
echo "torch $torch_version, device $device" | tee "$out/log.txt"
recipe=(--pretrain-mix 0.5 --lang-weights '{"python": 0.18, "bash": 0.76, "cf": 0.06}' --batch "$batch" --lr "$lr"
  --warmup 200 --seed 0 --eval-every "$evals" --checkpoint-every "$evals"
  --early-stop-patience 3 --early-stop-floor 0.25 --no-sample-eval)
train() {  # the trainer's progress bar is left out of the log
  "$py" -m codefusion.model.training.cli finetune "$@" "${recipe[@]}" 2>&1 | tr '\r' '\n' | grep -v -E "(it/s|s/it)\]$" \
    >> "$out/log.txt"
}
train --run "$runs/ar" --arch ar --tokenizer models/codefusion/tokenizer.json \
  --steps "${AR_STEPS:-2500}" --minutes "${AR_MIN:-3}"
train --run "$runs/masked" --kernel masked --init "$runs/ar/model" --causal-anneal "${ANNEAL:-500}" \
  --steps "${MASKED_STEPS:-3000}" --minutes "${MASKED_MIN:-4}"
for run in ar masked; do
  "$py" scripts/dev_loss.py "$runs/$run/model" --device "$device" --out "$runs/$run/dev_loss.jsonl" >> "$out/log.txt" 2>&1
  # back come each run's last weights (model/, 21 MB in fp16), metrics and dev loss: 64 MiB return at most
  rm -rf "$runs/$run/checkpoint" "$runs/$run/snapshots"
done
tar czf - -C "$(dirname "$runs")" gpu-runs | split -b 15M - "$out/gpu-runs.tgz.part-"
ls -la "$out" >> "$out/log.txt"
