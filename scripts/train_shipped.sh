#!/usr/bin/env bash
# How the shipped models were trained, on this 2-core CPU machine. Every stage is resumable: rerun the
# same command and it continues from the run folder's last checkpoint (runs/ is not in git).
#
#   scripts/train_shipped.sh pretrain diffusion|ar [MINUTES]   pretraining (30 min each for the shipped models)
#   scripts/train_shipped.sh finetune-ar [MINUTES]             the AR baseline's fine-tuning (73 min shipped)
#   scripts/train_shipped.sh finetune-diffusion [MINUTES]      the diffusion model's fine-tuning (95 min shipped)
#   scripts/train_shipped.sh ablation [MINUTES]                the same fine-tuning without pretraining
#   scripts/train_shipped.sh continue [MINUTES]                third session: continue from models/codefusion
#                                                              (steps 0-500 uniform t, then low_mixed; 110 min)
#   scripts/train_shipped.sh context [MINUTES]                 fourth session: from models/codefusion, the encoder
#                                                              reads a nearest other training example (120 min)
#   scripts/train_shipped.sh minilm-gpu [MINUTES]              fifth session, on a GPU: the MiniLM prompt reader (3 min)
#   scripts/train_shipped.sh augment [MINUTES]                 fifth session: control vs + mined Python pairs (45 min)
#   scripts/train_shipped.sh continue-v6 [MINUTES]             sixth session: two runs side by side from
#                                                              models/codefusion, lr 1.5e-4: + mined Python pairs
#                                                              (100 min) and SDEdit training --example-start 300 (50 min)
#   scripts/train_shipped.sh continue-v7 [MINUTES]             seventh session: from models/codefusion, lr 1.5e-4,
#                                                              length-aware (--pad-weight 0.1, 45 min)
#   scripts/train_shipped.sh continue-v8 [MINUTES]             eighth session: prompt dropout 0.15 (guidance) + mined
#                                                              Python pairs, lr 1.5e-4, one thread (cosine planned
#                                                              over 130 min; stopped by hand at 90 min, step 3,700)
#   scripts/train_shipped.sh seeding                           write seeding.json + examples.jsonl (dev-tuned)
#                                                              and the examples' MiniLM embeddings
#
# The shipped diffusion model (models/MODEL_CARD.md): pretraining 30 min, one thread; fine-tuning with
# embed_scale 0.4, 95 min of training time: steps 0-1,500 on one thread beside the ablation run (one thread
# each), then on two threads alone. Export: codefusion train export --run RUN --out models/codefusion
set -euo pipefail
stage=${1:?pretrain, finetune-ar, finetune-diffusion or ablation}
cd "$(dirname "$0")/.."
bin=.venv/bin/codefusion
common=(--threads "${THREADS:-1}" --batch 32 --eval-every 500 --seed 0)
export OMP_NUM_THREADS=${THREADS:-1}
case "$stage" in
  pretrain)
    arch=${2:?diffusion or ar}; minutes=${3:-30}
    tok_args=()
    if [ "$arch" = ar ]; then
      # The tokenizer is trained once (by the diffusion run) and shared, so both models see the same tokens.
      while [ ! -f runs/diffusion/pretrain/tokenizer.json ]; do sleep 5; done
      tok_args=(--tokenizer runs/diffusion/pretrain/tokenizer.json)
    fi
    $bin train pretrain --arch "$arch" --run "runs/$arch/pretrain" --minutes "$minutes" "${common[@]}" "${tok_args[@]}"
    ;;
  finetune-ar)
    $bin train finetune --run runs/ar/finetune --init runs/ar/pretrain/model --minutes "${2:-73}" "${common[@]}" \
      --pretrain-mix 0.15 --lr 3e-4 --warmup 100
    ;;
  finetune-diffusion)
    $bin train finetune --run runs/v2/ft-pre --init runs/diffusion/pretrain/model \
      --config-overrides '{"embed_scale": 0.4}' --minutes "${2:-95}" "${common[@]}" --lr 5e-4 --warmup 200
    ;;
  ablation)
    $bin train finetune --run runs/v2/ft-scratch --tokenizer runs/diffusion/pretrain/tokenizer.json \
      --config-overrides '{"embed_scale": 0.4}' --minutes "${2:-95}" "${common[@]}" --lr 5e-4 --warmup 200
    ;;
  continue)
    # Shipped on 2026-11-29: the run began with --timesteps uniform and was resumed at its step-500
    # checkpoint with low_mixed (half the draws in t < 300, where example seeding samples).
    $bin train finetune --run runs/v3/ft-cont --init models/codefusion --minutes "${2:-110}" \
      --threads "${THREADS:-2}" --batch 32 --eval-every 500 --seed 3 --lr 3e-4 --warmup 100 --timesteps low_mixed \
      --lang-weights '{"python": 0.45, "bash": 0.35, "cf": 0.2}'
    ;;
  context)
    # Retrieval context (model/training/context.py): the encoder input grows to 128 tokens, prompt + nearest other
    # training example (prompt and code); the position table's new rows repeat the old ones.
    $bin train finetune --run runs/v4/ft-ctx --init models/codefusion --minutes "${2:-120}" \
      --config-overrides '{"example_context": true, "max_prompt_len": 128}' \
      --threads "${THREADS:-2}" --batch 32 --eval-every 1000 --seed 5 --lr 3e-4 --warmup 100
    ;;
  minilm-gpu)
    # Fifth session, on a lent H200 (measured, not shipped): the frozen MiniLM prompt reader from the shipped
    # weights, snapshots every 250 steps scored by dev CE (scripts/gpu_snapshots.py does this on the device).
    $bin train finetune --run runs/v5/ft-minilm --init models/codefusion --minutes "${2:-3}" --batch 128 \
      --config-overrides '{"max_prompt_len": 112, "minilm_prompt_len": 48}' --lr 5e-4 --warmup 200 \
      --eval-every 0 --checkpoint-every 250 --threads 8 --seed 11 --lang-weights '{"python": 0.3, "bash": 0.5, "cf": 0.2}'
    ;;
  augment)
    # Fifth session (measured, not shipped): does adding mined Python pairs help? Two runs side by side, one
    # thread each, from the shipped weights: the control and the same with the stdlib's comment pairs.
    .venv/bin/python scripts/mine_comment_pairs.py runs/v5/comment_pairs.jsonl
    for run in ctl aug; do
      extra=(); [ "$run" = aug ] && extra=(--extra-pairs runs/v5/comment_pairs.jsonl)
      $bin train finetune --run "runs/v5/$run" --init models/codefusion --minutes "${2:-45}" --threads 1 --batch 32 \
        --lr 3e-4 --warmup 100 --eval-every 0 --checkpoint-every 250 --seed 21 "${extra[@]}" &
    done
    wait
    ;;
  continue-v6)
    # Sixth session (measured): does a gentler continuation with the mined pairs, or SDEdit training (start from
    # a nearest other example's code with the literals moved in, noised below step 300), improve the served edits?
    [ -f runs/v5/comment_pairs.jsonl ] || .venv/bin/python scripts/mine_comment_pairs.py runs/v5/comment_pairs.jsonl
    $bin train finetune --run runs/v6/aug2 --init models/codefusion --minutes "${2:-100}" --threads 1 --batch 32 \
      --lr 1.5e-4 --warmup 100 --eval-every 0 --checkpoint-every 250 --seed 31 --extra-pairs runs/v5/comment_pairs.jsonl &
    $bin train finetune --run runs/v6/sdedit --init models/codefusion --minutes "${3:-50}" --threads 1 --batch 32 \
      --lr 1.5e-4 --warmup 100 --eval-every 0 --checkpoint-every 250 --seed 41 --example-start 300 &
    wait
    ;;
  continue-v7)
    # Seventh session (measured): length-aware training — the padding after a code's end counts 0.1 in the loss.
    $bin train finetune --run runs/v7/padw --init models/codefusion --minutes "${2:-45}" --threads 2 --batch 32 \
      --lr 1.5e-4 --warmup 100 --eval-every 0 --checkpoint-every 500 --seed 71 --pad-weight 0.1
    ;;
  continue-v8)
    # Eighth session (measured): classifier-free guidance — 15 % of the rows read the language tag alone — with
    # the mined Python comment pairs, from the shipped weights, one thread (the other one evaluates beside it).
    [ -f runs/v5/comment_pairs.jsonl ] || .venv/bin/python scripts/mine_comment_pairs.py runs/v5/comment_pairs.jsonl
    $bin train finetune --run runs/v8/cfg --init models/codefusion --minutes "${2:-130}" --threads 1 --batch 32 \
      --lr 1.5e-4 --warmup 100 --eval-every 0 --checkpoint-every 500 --seed 81 --prompt-dropout 0.15 \
      --extra-pairs runs/v5/comment_pairs.jsonl --lang-weights '{"python": 0.4, "bash": 0.45, "cf": 0.15}'
    ;;
  seeding)
    .venv/bin/python -m codefusion.model.examples.seeding models/codefusion ${SEEDING_ARGS:---start python=30 --start bash=30 --start cf=100 --steps 1 --rerank cf=0.2 --rerank-step 600 --examples-first python --examples-first bash}
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
