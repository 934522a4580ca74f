#!/usr/bin/env python3
"""Expected tDRO weight updates, computed from the official code's formulas.

Independent of tdro: plain Python floats, no project code. It follows
tdro-llm/tdro (src/tdro/dro/modeling_group_dro_v2.py compute_group_dro_loss,
trainer.py training_step_for_dromodelv2, GroupWeights, scripts/s1_tdro.sh):

* per example: loss_proxy = proxy (minus ref with group_loss_minus_ref_loss,
  divided by the L1-normalised reference loss with
  normalize_group_loss_scale_with_ref_loss, a normalised value below 1e-4
  replaced by 1), clamped at 0; per domain the mean over its examples of the
  micro-batch, 0 for an absent domain;
* the micro-batch scores are added into the gradient of log alpha; after the
  last of G micro-batches the gradient is divided by G, clipped by
  torch.nn.utils.clip_grad_norm_(max_norm=1): coef = min(1, 1/(norm+1e-6)),
  and SGD with maximize=True steps log alpha += eta * grad; then
  alpha = softmax(log alpha), log alpha = log(alpha)
  (normalize_weights_on_every_update), mean = (mean*c + alpha)/(c+1),
  ema = 0.9*ema + 0.1*alpha;
* the proxy's loss of a micro-batch is sum_i loss_i * alpha[d_i]/sum_j alpha[d_j]
  with the alpha of that moment: micro-batches 1..G-1 of a step see the alpha
  from before the step's update, the last one the updated alpha; accelerate
  divides each micro-batch loss by G, so the per-example weight is that / G.

The "relative" measure is the paper's formula (mean proxy loss over mean
reference loss per domain), which the official code does not implement; it
is accumulated by the same rule.

Writes dro/testdata/official_update.json (run from the repository root).
"""
import json
import math
import os

ETA = 0.02
EMA = 0.1


def scores(measure, proxy, ref, dom, k):
    n = [0] * k
    s = [0.0] * k
    if measure == "relative":
        sr = [0.0] * k
        for p, r, d in zip(proxy, ref, dom):
            n[d] += 1
            s[d] += p
            sr[d] += r
        return [(s[g] / n[g]) / max(sr[g] / n[g], 1e-12) if n[g] else 0.0 for g in range(k)]
    vals = list(proxy)
    if measure == "excess":
        vals = [p - r for p, r in zip(proxy, ref)]
    elif measure == "relative-official":
        norm = max(sum(abs(r) for r in ref), 1e-12)  # F.normalize(p=1)
        clamped = [1.0 if r / norm < 1e-4 else r / norm for r in ref]
        vals = [p / c for p, c in zip(proxy, clamped)]
    vals = [max(v, 0.0) for v in vals]
    for v, d in zip(vals, dom):
        n[d] += 1
        s[d] += v
    return [s[g] / max(n[g], 1) for g in range(k)]


def softmax(x):
    m = max(x)
    e = [math.exp(v - m) for v in x]
    t = sum(e)
    return [v / t for v in e]


def example_weights(alpha, dom, micro):
    w = [alpha[d] for d in dom]
    t = sum(w)
    return [v / t / micro for v in w]


def run(case):
    k, measure, micro = case["k"], case["measure"], case["micro_batches"]
    alpha = list(case.get("init") or [1.0 / k] * k)
    log_alpha = [math.log(a) for a in alpha]
    mean, ema, count = list(alpha), list(alpha), 0
    out = []
    for step in case["steps"]:
        n = len(step["domain"])
        size = n // micro
        grad = [0.0] * k
        weights = []
        for j in range(micro):
            lo, hi = j * size, (j + 1) * size
            sc = scores(measure, step["proxy"][lo:hi], step["ref"][lo:hi], step["domain"][lo:hi], k)
            grad = [a + b for a, b in zip(grad, sc)]
            if j < micro - 1:
                weights += example_weights(alpha, step["domain"][lo:hi], micro)
        grad = [g / micro for g in grad]
        used = list(grad)
        norm = math.sqrt(sum(g * g for g in grad))
        coef = min(1.0, 1.0 / (norm + 1e-6))
        log_alpha = [la + ETA * g * coef for la, g in zip(log_alpha, grad)]
        alpha = softmax(log_alpha)
        log_alpha = [math.log(a) for a in alpha]
        mean = [(m * count + a) / (count + 1) for m, a in zip(mean, alpha)]
        ema = [e * (1 - EMA) + a * EMA for e, a in zip(ema, alpha)]
        count += 1
        lo = (micro - 1) * size
        weights += example_weights(alpha, step["domain"][lo:], micro)
        out.append({"scores": used, "alpha": alpha, "log_alpha": log_alpha, "weights": weights})
    return {"steps": out, "mean": mean, "ema": ema}


# Losses of InfoNCE scale (ln 8 ~ 2.08 for 1+7 passages), made by hand.
P8 = [2.10, 1.35, 0.80, 2.60, 1.90, 0.45, 1.20, 3.10]
R8 = [1.70, 1.50, 0.30, 2.00, 2.20, 0.50, 0.90, 1.40]
D8 = [0, 1, 2, 3, 0, 1, 2, 3]
CASES = [
    {"name": "official measure, 1 step", "k": 4, "measure": "relative-official", "micro_batches": 1,
     "steps": [{"proxy": P8, "ref": R8, "domain": D8}]},
    {"name": "paper measure, 1 step", "k": 4, "measure": "relative", "micro_batches": 1,
     "steps": [{"proxy": P8, "ref": R8, "domain": D8}]},
    {"name": "official measure, 2 micro-batches", "k": 4, "measure": "relative-official", "micro_batches": 2,
     "steps": [{"proxy": P8, "ref": R8, "domain": [0, 1, 2, 3, 3, 1, 0, 0]}]},
    {"name": "excess, 2 micro-batches", "k": 4, "measure": "excess", "micro_batches": 2,
     "steps": [{"proxy": P8, "ref": R8, "domain": [0, 1, 2, 3, 3, 1, 0, 0]}]},
    # micro-batch 1 lacks domain 3, micro-batch 2 lacks domains 0 and 2
    {"name": "2 micro-batches, a domain absent in each", "k": 4, "measure": "relative-official", "micro_batches": 2,
     "steps": [{"proxy": P8, "ref": R8, "domain": [0, 1, 2, 0, 1, 3, 3, 1]}]},
    # large scores: the clip acts (norm > 1)
    {"name": "two steps, mean and EMA", "k": 3, "measure": "excess", "micro_batches": 1,
     "steps": [{"proxy": [5.0, 1.0, 4.0, 0.2], "ref": [1.0, 1.5, 0.5, 0.1], "domain": [0, 1, 2, 2]},
               {"proxy": [0.3, 2.5, 1.1, 0.9], "ref": [0.2, 0.4, 1.0, 1.2], "domain": [0, 1, 1, 2]}]},
    {"name": "mixture init, official measure, 1 step", "k": 4, "measure": "relative-official", "micro_batches": 1,
     "init": [0.1, 0.2, 0.3, 0.4],
     "steps": [{"proxy": P8, "ref": R8, "domain": D8}]},
]

if __name__ == "__main__":
    fixture = {"eta": ETA, "ema": EMA, "cases": []}
    for c in CASES:
        fixture["cases"].append({**c, "want": run(c)})
    path = os.path.join("dro", "testdata", "official_update.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", path, "with", len(CASES), "cases")
