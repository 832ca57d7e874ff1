"""Train the masked model as the judge of the nearest examples (issue 38; an experiment, not a shipped recipe).

Today the served order after the nearest example is nearness × exp(−w × the masked model's mean −log p of each
example's code under the request): a judge the model is by accident, trained only to denoise. This trains it for
the job with a listwise loss: for a training prompt, its 10 nearest examples from the other training pairs (the
retriever the server uses, slots applied, the pair itself left out) are scored by the model (mean log p of each
example's code as it is, each token while masked: token_logp's two passes, with gradients), and the softmax of
the scores is pulled towards the softmax of how good each example as served is for that prompt (Python BLEU-4,
Bash template match, against the pair's own code). The weights are written as a masked model folder for
`scripts/fit_rerank.py --model-dir` (a served folder whose languages.json names it).

Usage: .venv/bin/python scripts/train_judge.py --out DIR [--steps 300 --batch 4 --lr 5e-5 --per-lang 1500]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import torch
from codefusion.model.modelfile import save_model_dir
from codefusion.model.noise.masked import through_end, token_logp
from codefusion.model.pipeline import DEFAULT_MODEL_DIR
from codefusion.model.training.data import load_pairs
from codefusion.server.cli.eval_runs import language_metrics
from codefusion.server.cli.report import PRIMARY
from codefusion.server.engine import Engine

LANGS = ("python", "bash")


def build_lists(engine: Engine, lang: str, n: int, pool: int, rng: random.Random) -> list[dict]:
    """Up to n training prompts of `lang` with their `pool` nearest other examples and each one's target."""
    seeds = engine._seeds
    assert seeds is not None
    scorer = language_metrics(lang)[PRIMARY[lang]]
    codes, prompts = seeds.retrievers[lang].codes, seeds.prompts[lang]
    pairs = load_pairs(lang, "train")[0]
    rng.shuffle(pairs)
    lists = []
    for pair in pairs[: 3 * n]:
        found = [r for r in seeds.nearest(pair.prompt, lang, pool + 1)
                 if not (prompts[r.index] == pair.prompt and codes[r.index] == pair.code)][:pool]
        if len(found) < 2:
            continue
        targets = [float(scorer(r.code, pair)) for r in found]
        if max(targets) == min(targets):  # nothing to learn from this list
            continue
        lists.append({"lang": lang, "prompt": pair.prompt, "codes": [codes[r.index] for r in found],
                      "targets": targets})
        if len(lists) == n:
            break
    return lists


def list_loss(pipe, item: dict, seed: int, tau_target: float, tau_score: float) -> torch.Tensor:  # type: ignore[no-untyped-def]
    net, cfg = pipe.net, pipe.config
    codes = item["codes"]
    ids = pipe._init_tokens([codes], 1, len(codes), cfg.code_len[item["lang"]], "codes")
    ids = ids[:, : int(through_end(ids, cfg.pad_id).sum(-1).max())]
    prompt, pad = pipe._prompts([item["prompt"]], item["lang"])
    scorer = token_logp.__wrapped__  # the function without its inference_mode: with gradients
    logp = scorer(net, prompt=prompt, prompt_pad=pad, codes=ids, seed=seed, per_prompt=len(codes))
    scored = through_end(ids, cfg.pad_id).float()
    score = (logp * scored).sum(-1) / scored.sum(-1).clamp(min=1)  # mean log p: −the fit the server uses
    target = torch.softmax(torch.tensor(item["targets"]) / tau_target, -1)
    return -(target * torch.log_softmax(score / tau_score, -1)).sum()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--per-lang", type=int, default=2000)
    p.add_argument("--pool", type=int, default=10)
    p.add_argument("--tau-target", type=float, default=10.0, help="targets are 0-100 scores")
    p.add_argument("--tau-score", type=float, default=0.5, help="scores are mean log p per token")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    engine = Engine(DEFAULT_MODEL_DIR, device="cpu")
    engine.load()
    pipe = engine._pipeline("python")
    assert pipe is engine._pipeline("bash") and pipe.kind == "masked"
    t0 = time.perf_counter()
    lists = {lang: build_lists(engine, lang, args.per_lang, args.pool, rng) for lang in LANGS}
    print(json.dumps({"lists": {k: len(v) for k, v in lists.items()}, "seconds": round(time.perf_counter() - t0)}),
          flush=True)
    net = pipe.net
    net.train()
    for param in net.parameters():  # the pipeline loads weights for inference
        param.requires_grad_(True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=0.0)
    log = []
    for step in range(1, args.steps + 1):
        opt.zero_grad()
        items = [rng.choice(lists[rng.choice(LANGS)]) for _ in range(args.batch)]
        loss = sum(list_loss(pipe, it, step, args.tau_target, args.tau_score) for it in items) / len(items)
        loss.backward()  # type: ignore[union-attr]
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        log.append(float(loss.detach()))  # type: ignore[union-attr]
        if step % 25 == 0:
            print(json.dumps({"step": step, "loss": round(sum(log[-25:]) / 25, 4),
                              "minutes": round((time.perf_counter() - t0) / 60, 1)}), flush=True)
    net.eval()
    shutil.copytree(Path(pipe.model_dir), args.out, dirs_exist_ok=True)
    save_model_dir(args.out, net, pipe.config, pipe.tokenizer, kind="masked",
                   meta={"judge": vars(args) | {"out": str(args.out)}, "from": str(pipe.model_dir)})
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
