#!/usr/bin/env python3
"""Prints the held-out table of scripts/tune/heldout.sh: per variant the mean
over seeds of the reference's held-out in-domain nDCG@10 (mean over domains),
its per-seed values, the reference's training CPU time, and the per-domain means."""
import glob, json, os, statistics, sys

out, variants = sys.argv[1], [v.split("=", 1)[0] for v in sys.argv[2:]]
rows, domains = [], None
for v in variants:
    per_seed, per_dom, secs = [], {}, []
    for f in sorted(glob.glob(os.path.join(out, v, "seed-*", "eval", "reference", "heldout.json"))):
        h = json.load(open(f))
        per_seed.append(h["ndcg@10"])
        for d, x in h["per_domain"].items():
            per_dom.setdefault(d, []).append(x)
        m = json.load(open(os.path.join(os.path.dirname(f), "..", "..", "manifests", "train-reference.json")))
        secs.append(m.get("cpu_seconds", 0))
    domains = domains or sorted(per_dom)
    rows.append((v, per_seed, {d: statistics.mean(per_dom[d]) for d in per_dom}, statistics.mean(secs) if secs else 0))
print("| variant | held-out nDCG@10 | seeds | train CPU s | " + " | ".join(domains) + " |")
print("|---|---:|---|---:|" + "---:|" * len(domains))
for v, ps, pd, s in rows:
    print(f"| {v} | {statistics.mean(ps):.4f} | {' '.join(f'{x:.4f}' for x in ps)} | {s:.0f} | " + " | ".join(f"{pd.get(d, 0):.3f}" for d in domains) + " |")
