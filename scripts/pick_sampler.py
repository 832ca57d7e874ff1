"""Dev sweep of sampler settings (steps, spacing, eta) on raw samples: how the shipped default was chosen.

Usage: .venv/bin/python scripts/pick_sampler.py MODEL_DIR [N_PROMPTS_PER_LANGUAGE]
"""
import sys, time, torch, json
from codefusion.model.pipeline import CodeFusionPipeline
from codefusion.model.data import load_pairs
from codefusion.model.sampler import DDIMScheduler, sample_codes
from codefusion.model import metrics as M
from codefusion.model.validate import validate
p = CodeFusionPipeline.from_dir(sys.argv[1], device="cpu")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 30
def score(lang, cands, pair):
    if lang == "cf": return max(M.cf_execution_match(c, pair.code, pair.data) for c in cands)
    if lang == "bash": return max(M.template_match(c, pair.code) for c in cands)
    return max(M.sentence_bleu(c, pair.code) for c in cands) / 100
for lang in ["cf", "bash", "python"]:
    pairs = load_pairs(lang, "dev")[0][:N]
    prompt, pad = p._prompts([x.prompt for x in pairs], lang)
    for power, steps, eta in [(1, 1, 0), (1, 2, 0), (3, 3, 0), (3, 5, 0), (1, 10, 0)]:
        sch = DDIMScheduler(schedule=p.schedule, spacing_power=power, eta=eta)
        t = time.time()
        out = sample_codes(p.net, sch, prompt=prompt, prompt_pad=pad, k=5, length=p.config.code_len[lang], steps=steps)
        dt = time.time() - t
        texts = [p.tokenizer.decode(r) for r in out.tokens.tolist()]
        per = [texts[i*5:(i+1)*5] for i in range(len(pairs))]
        top1 = sum(score(lang, c[:1], x) for c, x in zip(per, pairs)) / len(pairs)
        top5 = sum(score(lang, c, x) for c, x in zip(per, pairs)) / len(pairs)
        valid = sum(validate(lang, t) for t in texts) / len(texts)
        distinct = sum(len(set(c)) for c in per) / len(per)
        print(json.dumps(dict(lang=lang, power=power, steps=steps, eta=eta, top1=round(top1, 3), top5=round(top5, 3), valid=round(valid, 3), distinct=distinct, s=round(dt, 1), ex=per[0][:2])), flush=True)
