#!/usr/bin/env python3
"""sentence-transformers against tdro, on the GPU machine (the only place
the real library is installed): for each model directory tdro saved, embed
the same texts with `tdro model encode` and with SentenceTransformer(dir),
and require the largest absolute difference to be at most 1e-4.

  st_check.py TDRO_BINARY MODEL_DIR...
"""
import json
import subprocess
import sys

TEXTS = [
    "What is the capital of France?",
    "Paris is the capital and largest city of France.",
    "임종석이 여의도 농민 폭력 시위를 주도한 혐의로 지명수배 된 날은?",
    "北京是中华人民共和国的首都。",
    "def add(a, b): return a + b",
]


def main():
    from sentence_transformers import SentenceTransformer

    tdro, dirs = sys.argv[1], sys.argv[2:]
    worst = 0.0
    for d in dirs:
        out = subprocess.run([tdro, "model", "encode", d], input="\n".join(TEXTS) + "\n",
                             capture_output=True, text=True, check=True).stdout
        ours = [json.loads(line) for line in out.splitlines()]
        st = SentenceTransformer(d, device="cuda").encode(TEXTS, convert_to_numpy=True)
        diff = max(abs(a - b) for u, v in zip(ours, st) for a, b in zip(u, v))
        dims = (len(ours[0]), st.shape[1])
        print(f"{d}: dims tdro {dims[0]}, sentence-transformers {dims[1]}, max abs diff {diff:.2e}")
        if dims[0] != dims[1] or len(ours) != len(TEXTS):
            sys.exit(f"{d}: shapes differ")
        worst = max(worst, diff)
    print(f"worst {worst:.2e} (tolerance 1e-4)")
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
