#!/usr/bin/env bash
# How the shipped models were trained, on this 2-core CPU machine. Every stage is resumable: rerun the
# same command and it continues from the run folder's last checkpoint (runs/ is not in git).
#
#   scripts/train_shipped.sh pretrain diffusion|ar [MINUTES]   pretraining (30 min each for the shipped models)
#   scripts/train_shipped.sh finetune-ar [MINUTES]             the AR baseline's fine-tuning (73 min shipped)
#   scripts/train_shipped.sh finetune-diffusion [MINUTES]      the diffusion model's fine-tuning (95 min shipped)
#   scripts/train_shipped.sh ablation [MINUTES]                the same fine-tuning without pretraining
#   scripts/train_shipped.sh augment [MINUTES]                 2026-11-29: control vs + mined Python pairs (45 min)
#   scripts/train_shipped.sh continue-v6 [MINUTES]             2026-11-30: from models/codefusion, lr 1.5e-4,
#                                                              + mined Python pairs (100 min)
#   scripts/train_shipped.sh bakeoff masked|gaussian           2026-12-01: the kernels' bake-off, both from scratch,
#                                                              same data, tokenizer, E/N size, batch 32, lr 5e-4 flat
#                                                              after warmup (cosine planned over 60k steps); snapshots
#                                                              every 1,000 steps; the masked run is the long run that
#                                                              every later run resumes (same command). From step
#                                                              6,500 (2026-12-01) the cosine ends at 25,000 steps
#                                                              (STEPS=25000, the default now): lr 4.9e-4 -> 4.3e-4 there;
#                                                              from step 8,750 the languages are weighted by their
#                                                              pairs (LANG_WEIGHTS, python/bash/cf 0.18/0.76/0.06):
#                                                              CF's dev loss rose after ~2,000 steps at 0.25
#   scripts/train_shipped.sh pretrain-mix                      2026-12-01: the masked kernel's pretraining
#                                                              ablation (the long run's recipe + --pretrain-mix 0.5);
#                                                              from step 6,000 (2026-12-02) the masked winner's
#                                                              recipe: languages by their pairs, cosine ending at
#                                                              25,000, per-language early stopping
#   scripts/train_shipped.sh ar-retrain                        2026-12-02: the AR baseline at the same budget,
#                                                              data and recipe (issue 20, item 7), from scratch
#   scripts/train_shipped.sh masked-ablation unweighted|timecond  2026-12-02: the masked loss without the 1/t
#                                                              weight, or with time conditioning; the bake-off's
#                                                              early recipe from scratch, dev loss at each 1,000
#                                                              steps (2,000 and 1,000 steps were run)
#   scripts/train_shipped.sh mix-unweighted                    2026-12-02: the pretrain-mix run forked at its
#                                                              step-10,000 checkpoint with the unweighted loss
#   scripts/train_shipped.sh masked-from-ar                    2026-12-02: the masked kernel initialised from
#                                                              the retrained AR (INIT, default its step-3,000
#                                                              snapshot), then the pretrain-mix recipe, eval every 500;
#                                                              NAME: the run folder, ANNEAL: --causal-anneal steps,
#                                                              RATE_MIN: --mask-rate-min, EXTRA: --extra-pairs
#   scripts/train_shipped.sh edit [MINUTES]                    2026-12-06: the edit model (issue 38): the shipped masked
#                                                              weights (INIT, default models/codefusion-masked) plus a
#                                                              copy head and 4 input segments, trained on the CodeFusion
#                                                              split + data/external/ with a retrieved example per pair;
#                                                              lr 3e-4, warmup 200, cosine over MINUTES (125 planned,
#                                                              stopped at step 2,250 after 97 min on a loaded machine);
#                                                              NAME: the run folder; POOL: where an external row's
#                                                              examples come from (own: its source, the default since
#                                                              2026-12-06; codefusion: that day's run). Once the shipped folder is an edit
#                                                              model, INIT=models/codefusion-masked continues it.
#                                                              TWIN: the copy curriculum's share (--twin, default 0.3);
#                                                              LR_MULT: the copy head's lr multiplier (default 10). The
#                                                              2026-12-06 chain (docs/experiments.md): edit-v1 2,250 steps
#                                                              (no twins, CodeFusion pool) -> edit-v2 500 steps (twin 0.25)
#                                                              -> edit-v3 250 steps (+ copy_align) -> edit-v4 (the copy
#                                                              head at 10x lr) -> edit-copy (EXTRA="--train-only copy."
#                                                              TWIN=1.0 LR=3e-3 LR_MULT={}: the copy head alone), each
#                                                              INIT the last one's model/ folder
#   scripts/train_shipped.sh ar-mix [MINUTES]                  2026-12-07: the AR baseline on the edit model's data mix
#                                                              (issue 38, item 5): the shipped AR baseline's weights plus
#                                                              the edit chain's steps (STEPS, default 4,950) on the
#                                                              CodeFusion split + data/external/ at the edit stream's
#                                                              language and source shares, lr 3e-4, warmup 100, no
#                                                              examples; NAME: the run folder
#   scripts/train_shipped.sh masked-mix [MINUTES]              2026-12-07: the shipped masked model on the same mix and
#                                                              recipe as ar-mix (issue 38, item 5: the model alone
#                                                              against the AR baseline retrained on the same data)
#   scripts/train_shipped.sh seeding                           write seeding.json + examples.jsonl (dev-tuned; since
#                                                              0.8.0 with the library reference's rows for docstrings)
#
# The shipped diffusion model (models/MODEL_CARD.md): pretraining 30 min, one thread; fine-tuning with
# embed_scale 0.4, 95 min of training time: steps 0-1,500 on one thread beside the ablation run (one thread
# each), then on two threads alone. Export: codefusion train export --run RUN --out models/codefusion --force
# The stages of the experiments that were measured and not adopted (a continuation weighted to low noise,
# retrieval context, the MiniLM prompt reader, SDEdit training, length-aware training, training for
# classifier-free guidance) are in this script at commit 1c6da01 (docs/experiments.md).
set -euo pipefail
stage=${1:?pretrain, finetune-ar, finetune-diffusion or ablation}
cd "$(dirname "$0")/.."
bin=.venv/bin/codefusion
common=(--threads "${THREADS:-1}" --batch 32 --eval-every 500 --seed 0)
# The step-counted runs since the bake-off (2026-12-01 on): one recipe, so that their comparisons stay fair.
long_run=(--minutes 100000 --batch 32 --lr 5e-4 --warmup 200 --threads "${THREADS:-1}" --seed 0 --eval-every 1000
  --checkpoint-every 250 --snapshot-every 1000)
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
  augment)
    # 2026-11-29 (measured, not shipped): does adding mined Python pairs help? Two runs side by side, one
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
    # 2026-11-30 (measured, not shipped): does a gentler continuation with the mined pairs improve the served
    # edits? (It ran beside SDEdit training, whose stage is at commit 1c6da01.)
    [ -f runs/v5/comment_pairs.jsonl ] || .venv/bin/python scripts/mine_comment_pairs.py runs/v5/comment_pairs.jsonl
    $bin train finetune --run runs/v6/aug2 --init models/codefusion --minutes "${2:-100}" --threads 1 --batch 32 \
      --lr 1.5e-4 --warmup 100 --eval-every 0 --checkpoint-every 250 --seed 31 --extra-pairs runs/v5/comment_pairs.jsonl
    ;;
  bakeoff)
    # RUNS may point outside the checkout (a separate worktree's runs/, so that refactoring never breaks a
    # live run): RUNS=/work/train-wt/runs scripts/train_shipped.sh bakeoff masked
    kernel=${2:?masked or gaussian}; runs=${RUNS:-runs}
    extra=(--lang-weights "${LANG_WEIGHTS:-{\"python\": 0.18, \"bash\": 0.76, \"cf\": 0.06\}}")
    [ "$kernel" = gaussian ] && extra+=(--config-overrides '{"embed_scale": 0.4}')
    # From step 11,750 (2026-12-01): per-language early stopping on dev loss, seeded with the curve of
    # docs/experiments/dev_loss_masked.jsonl (python stopped at 9,000, cf at 4,000; bash still improving).
    [ "$kernel" = masked ] && extra+=(--early-stop-patience 3 --early-stop-floor 0.25 --no-sample-eval)
    $bin train finetune --run "$runs/bakeoff-$kernel" --kernel "$kernel" --tokenizer models/codefusion/tokenizer.json \
      "${extra[@]}" --steps "${STEPS:-25000}" "${long_run[@]}"
    ;;
  pretrain-mix|ar-retrain|mix-unweighted|masked-from-ar)
    # pretrain-mix (2026-12-01): the pretraining ablation of the masked kernel (issue 20, item 5). The long
    # run's early recipe (default language shares, cosine planned over 60k steps, from scratch, same tokenizer and
    # seed) plus --pretrain-mix 0.5: half the batches are the masked objective on the code corpora with an empty
    # prompt; compared with the long run's snapshots at equal steps by scripts/dev_loss.py. From step 6,000
    # (2026-12-02) it is the masked winner's recipe: languages by their pairs, the cosine ending at 25,000
    # steps (STEPS), per-language early stopping seeded with the curve of steps 1,000-6,000
    # (docs/experiments/dev_loss_masked.jsonl; early_stop.seed_history). Its first 6,000 steps were:
    # STEPS=60000 EARLY=0 LANG_WEIGHTS='{"python": 0.35, "bash": 0.4, "cf": 0.25}'.
    # ar-retrain (2026-12-02): the AR baseline from scratch with that recipe and budget (issue 20, item 7):
    # the same pairs and corpora, tokenizer, batch, lr, warmup, language shares, cosine and early stopping. Its
    # dev loss (teacher-forced CE) is the bar for the masked model's bound (scripts/dev_loss.py --bound).
    # mix-unweighted (2026-12-02): issue 20 item 1 on the winner's recipe, paired: the pretrain-mix run's
    # checkpoint at step 10,000 copied to masked-mix-unweighted (data order, schedule and early-stopping state the
    # same) and continued with the unweighted loss beside the original.
    # masked-from-ar (2026-12-02): the masked net adapted from the AR baseline (model/training/from_ar.py;
    # DiffuLLaMA / Dream / DiffuCoder start masked code models from AR ones): N is the AR's 6 decoder layers with
    # shifted input (10.95 M parameters), then the pretrain-mix recipe from its step 0. Later on 2026-12-02, paired
    # from the AR's step-6,000 snapshot: NAME=masked-from-ar6k INIT=…/step-6000, and NAME=masked-from-ar6k-anneal
    # ANNEAL=1000 (N's attention opens from causal to full over the first 1,000 steps, DiffuLLaMA); and that
    # run forked at its step-2,000 checkpoint (checkpoint/, config.json, early_stop.json, tokenizer.json and
    # metrics.jsonl up to 2,000 copied to masked-from-ar6k-anneal-hr) and continued with RATE_MIN=0.5
    # (--mask-rate-min: training masking rates from 0.5). Then sequence-level distillation from the
    # same AR snapshot with ANNEAL=1000 (measured, not adopted; scripts/distill_ar.py and --extra-replace are at commit
    # d89c28c): EXTRA=<distill_ar.py's Bash + Python rows> with REPLACE=1 (NAME=kd-only: the
    # teacher's outputs instead of the references) and without (NAME=kd-mix: both).
    # From 2026-12-02 on (a new machine: the earlier runs' folders were gone), from the shipped AR baseline:
    # NAME=masked-from-arship-anneal INIT=models/ar-baseline ANNEAL=1000, THREADS=2; its step-6,000 snapshot is
    # models/codefusion-masked (Python and Bash). A run folder does not outlive the machine, so a later run
    # continues from the shipped weights: NAME=masked-continue INIT=models/codefusion-masked ANNEAL=0 (a fresh
    # optimiser and warmup; the cosine starts again). For 11,000-16,500 (2026-12-02), the folder still there: resumed at
    # 11,250 with the cosine's end moved from 12,000 to 16,500 (STEPS=16500: lr back up to ~1.5e-4, down to the
    # floor by 16,500) and EARLY=10 (a re-warm lifts the dev loss for a while; patience 3 would end the run).
    # 2026-12-03 (the machine laid anew again: the run's folder, steps 16,000-25,000, was gone), from
    # the shipped step-16,000 weights with the lost run's last stretch (20,500-25,000: lr 1.5e-4 down, 4,500 steps):
    # NAME=masked-continue INIT=models/codefusion-masked ANNEAL=0 LR=1.5e-4 WARMUP=100 STEPS=4500 EARLY=20.
    # One recipe for the four runs; each stage names its run folder and model (after: flags that must follow
    # long_run's, since the last one given wins).
    runs=${RUNS:-runs}
    tok=(--tokenizer models/codefusion/tokenizer.json)
    after=()
    case "$stage" in
      pretrain-mix) model=(--run "$runs/masked-pretrain-mix" --kernel masked "${tok[@]}") ;;
      ar-retrain) model=(--run "$runs/ar-retrain" --arch ar "${tok[@]}") ;;
      mix-unweighted)
        if [ ! -d "$runs/masked-mix-unweighted" ]; then
          grep -q '"step": 10000,' "$runs/masked-pretrain-mix/checkpoint/state.json" \
            || { echo "stop the pretrain-mix run at its step-10,000 checkpoint to fork it" >&2; exit 2; }
          mkdir "$runs/masked-mix-unweighted"
          cp -r "$runs/masked-pretrain-mix"/{checkpoint,config.json,early_stop.json,metrics.jsonl,tokenizer.json} \
            "$runs/masked-mix-unweighted/"
        fi
        model=(--run "$runs/masked-mix-unweighted" --kernel masked --loss-weighting unweighted "${tok[@]}") ;;
      masked-from-ar)
        model=(--run "$runs/${NAME:-masked-from-ar}" --kernel masked --init "${INIT:-$runs/ar-retrain/snapshots/step-3000}"
          --causal-anneal "${ANNEAL:-0}" --mask-rate-min "${RATE_MIN:-0.001}")
        [ -n "${EXTRA:-}" ] && model+=(--extra-pairs "$EXTRA")
        after=(--eval-every 500 --snapshot-every 500 --lr "${LR:-5e-4}" --warmup "${WARMUP:-200}") ;;
    esac
    $bin train finetune "${model[@]}" \
      --pretrain-mix 0.5 --lang-weights "${LANG_WEIGHTS:-{\"python\": 0.18, \"bash\": 0.76, \"cf\": 0.06\}}" \
      --steps "${STEPS:-25000}" "${long_run[@]}" --early-stop-patience "${EARLY:-3}" --early-stop-floor 0.25 --no-sample-eval \
      "${after[@]}"
    ;;
  masked-ablation)
    # 2026-12-02: issue 20 item 1's comparisons, each from scratch with the bake-off's early recipe (default
    # shares, cosine planned over 60k); early stopping with a patience no run reaches only logs the dev loss.
    case "${2:?unweighted or timecond}" in
      unweighted) extra=(--loss-weighting unweighted) ;;
      timecond) extra=(--config-overrides '{"time_conditioning": true}') ;;
      *) echo "unknown ablation $2" >&2; exit 2 ;;
    esac
    $bin train finetune --run "${RUNS:-runs}/ablate-$2" --kernel masked --tokenizer models/codefusion/tokenizer.json \
      "${extra[@]}" --steps 60000 "${long_run[@]}" --early-stop-patience 1000 --no-sample-eval
    ;;
  ar-mix)
    $bin train finetune --run "${RUNS:-runs}/${NAME:-ar-mix}" --init "${INIT:-models/ar-baseline}" --arch ar \
      --external pydocs,django,tldr,cheat,eg --lang-weights '{"python": 0.5, "bash": 0.5}' --lr 3e-4 --warmup 100 \
      --steps "${STEPS:-4950}" --minutes "${2:-100000}" --batch 32 --threads "${THREADS:-1}" --seed 5 \
      --eval-every 0 --checkpoint-every 250 --snapshot-every 1000
    ;;
  masked-mix)
    $bin train finetune --run "${RUNS:-runs}/${NAME:-masked-mix}" --init "${INIT:-models/codefusion-masked}" \
      --arch diffusion --kernel masked \
      --external pydocs,django,tldr,cheat,eg --lang-weights '{"python": 0.5, "bash": 0.5}' --lr 3e-4 --warmup 100 \
      --steps "${STEPS:-4950}" --minutes "${2:-100000}" --batch 32 --threads "${THREADS:-1}" --seed 5 \
      --eval-every 0 --checkpoint-every 250 --snapshot-every 1000
    ;;
  edit)
    init=${INIT:-models/codefusion-masked}
    overrides=()
    if ! grep -q '"copy_head": true' "$init/config.json"; then
      overrides=(--config-overrides '{"copy_head": true, "input_segments": 4, "copy_align": true}')
    elif ! grep -q '"copy_align": true' "$init/config.json"; then
      overrides=(--config-overrides '{"copy_align": true}')
    fi
    $bin train finetune --run "${RUNS:-runs}/${NAME:-edit}" --init "$init" --arch diffusion --kernel masked "${overrides[@]}" \
      --edit --external pydocs,django,tldr,cheat,eg --example-pool "${POOL:-own}" --twin "${TWIN:-0.3}" \
      --lr-mult "${LR_MULT:-{\"copy.\": 10\}}" --lang-weights '{"python": 0.5, "bash": 0.5}' \
      --lr "${LR:-3e-4}" --warmup "${WARMUP:-200}" --steps 100000 --minutes "${2:-125}" --eval-every 500 ${EXTRA:-} \
      --dev-loss-n 150 --checkpoint-every 250 --snapshot-every 1000 --threads "${THREADS:-1}" --seed 0
    ;;
  seeding)
    .venv/bin/python -m codefusion.model.examples.seeding models/codefusion ${SEEDING_ARGS:---start python=0 --start bash=0 --start cf=100 --steps 1 --rerank cf=0.2 --rerank python=0.05 --rerank bash=0.1 --rerank-keep-first python --rerank-keep-first bash --rerank-step 600 --examples-first python --examples-first bash --library 0.8}
    ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
