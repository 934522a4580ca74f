#!/usr/bin/env python3
"""Paired comparison of held-out tuning variants against a baseline variant,
over the seeds they share, gathered from one or more scripts/tune/heldout.sh
output directories (a variant's seeds may be spread over several):

  scripts/tune/paired.py [-s "5 6 7"] BASELINE OUT_DIR...

-s keeps only the seeds listed (a confirmation on fresh seeds leaves out the
ones that chose the candidate).

Per variant: its per-seed held-out nDCG@10, the differences to the baseline
paired by seed, their mean with a 95% t interval and the t statistic."""
import glob, json, math, os, statistics, sys

# Two-sided 95% t quantiles by degrees of freedom (up to 31 seeds).
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
        20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042}


def main():
    args, only = sys.argv[1:], None
    if args[:1] == ["-s"] and len(args) > 1:
        only, args = {int(x) for x in args[1].split()}, args[2:]
    if len(args) < 2:
        sys.exit(__doc__)
    baseline, dirs = args[0], args[1:]
    scores = {}  # variant -> seed -> score
    for out in dirs:
        for f in glob.glob(os.path.join(out, "*", "seed-*", "eval", "reference", "heldout.json")):
            parts = f.split(os.sep)
            variant, seed = parts[-5], int(parts[-4].removeprefix("seed-"))
            if only is not None and seed not in only:
                continue
            scores.setdefault(variant, {})[seed] = json.load(open(f))["ndcg@10"]
    if baseline not in scores:
        sys.exit(f"no variant {baseline} in {dirs}")
    base = scores[baseline]
    print(f"| variant | seeds | held-out nDCG@10 per seed | difference to {baseline} per seed | mean difference [95%] | t |")
    print("|---|---|---|---|---:|---:|")
    for v in sorted(scores):
        seeds = sorted(set(scores[v]) & set(base))
        if v == baseline or len(seeds) < 2:
            continue
        d = [scores[v][s] - base[s] for s in seeds]
        mean, se = statistics.mean(d), statistics.stdev(d) / math.sqrt(len(d))
        if len(d) - 1 not in T975:
            sys.exit(f"{v}: {len(d)} seeds, more than the t table here holds (31)")
        half = T975[len(d) - 1] * se
        t = mean / se if se > 0 else float("inf")
        print(f"| {v} | {' '.join(map(str, seeds))} | {' '.join(f'{scores[v][s]:.4f}' for s in seeds)} | "
              f"{' '.join(f'{x:+.4f}' for x in d)} | {mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}] | {t:.2f} |")
    print(f"\n{baseline}: {' '.join(f'{base[s]:.4f}' for s in sorted(base))} (seeds {' '.join(map(str, sorted(base)))})")


if __name__ == "__main__":
    main()
