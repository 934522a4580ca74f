#!/usr/bin/env python3
"""Which learners find the planted answer: reads a planted run's study.json
and the planted benchmark's planted.json, prints per learner the weight on
the good, neutral and noise domains (mean over seeds), the two domains it
ranks first, and its top-34% run against uniform.

usage: scripts/planted/summary.py RUN PLANTED_DIR
"""
import json
import sys

run, planted_dir = sys.argv[1], sys.argv[2]
study = json.load(open(f"{run}/study.json"))
planted = json.load(open(f"{planted_dir}/planted.json"))
groups = {"good": planted["good"], "neutral": planted["neutral"], "noise": planted["noise"]}

rows = {r["Run"]: r for r in study["Runs"]}
run_of = {"tDRO": "top34", "DoReMi": "doremi-top34", "RegMix": "regmix-top34"}
print("| learner | weight on good (2 domains) | neutral (2) | noise (2) | ranked first | found the good pair | rank correlation between seeds | its top-34% vs uniform (nDCG@10) |")
print("|---|---:|---:|---:|---|---|---:|---:|")
for l in study["Learned"]:
    w = {x["Domain"]: x["Mean"] for x in l["Weights"]}
    share = {g: sum(w.get(d, 0) for d in ds) for g, ds in groups.items()}
    top = [x["Domain"] for x in sorted(l["Weights"], key=lambda x: -x["Mean"])[:2]]
    found = "yes" if set(top) == set(planted["good"]) else "no"
    r = rows.get(run_of.get(l["Learner"], ""), None)
    gain = "—"
    if r:
        d = r["Diff"]["Diff"]
        gain = f'{d["Mean"]:+.4f} [{d["Lo"]:+.4f}, {d["Hi"]:+.4f}], p = {r["Diff"]["P"]:.2g}'
    print(f'| {l["Learner"]} | {share["good"]:.3f} | {share["neutral"]:.3f} | {share["noise"]:.3f} | {", ".join(top)} | {found} | {l["RankCorrelation"]:.2f} | {gain} |')
if "odm" in rows:
    d = rows["odm"]["Diff"]["Diff"]
    print(f'| ODM (no stage-1 weights) | | | | | | | {d["Mean"]:+.4f} [{d["Lo"]:+.4f}, {d["Hi"]:+.4f}], p = {rows["odm"]["Diff"]["P"]:.2g} |')
