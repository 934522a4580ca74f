#!/usr/bin/env python3
"""Compare the README's results table with a fresh run's report.

  scripts/readme/check-results.py runs/quickstart     # after `make quickstart`

Reads the nDCG@10 table of README.md's "One run in detail: the quickstart" section
and the first nDCG@10 table of RUN/report.md, and prints every cell that
differs (the run's value as it would appear in the README). Exits 1 when a
cell differs or a dataset/run is missing on either side, 0 when the README
says exactly what the run measured. Plain Python, no dependencies.
"""
import re
import sys


def table_after(lines, start):
    """The first Markdown table at or after line start: header, rows."""
    i = start
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
        if not set("".join(cells)) <= set("-: "):
            rows.append(cells)
        i += 1
    return rows[0], rows[1:]


def number(cell):
    m = re.search(r"-?\d+\.\d+", cell.replace("*", ""))
    return m.group(0) if m else None


def cells(header, rows):
    out = {}
    for r in rows:
        for name, c in zip(header[1:], r[1:]):
            out[(r[0].strip("*"), name)] = number(c)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    readme = open("README.md", encoding="utf-8").read().split("\n")
    sec = next(i for i, l in enumerate(readme) if l.startswith("## One run in detail: the quickstart"))
    want = cells(*table_after(readme, sec))
    report = open(sys.argv[1] + "/report.md", encoding="utf-8").read().split("\n")
    at = next(i for i, l in enumerate(report) if l.strip() == "**ndcg@10**")
    got = cells(*table_after(report, at))
    bad = 0
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            bad += 1
            print(f"{key[0]} / {key[1]}: README {want.get(key)}, run {got.get(key)}")
    print(f"{len(want)} README cells, {len(got)} run cells, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
