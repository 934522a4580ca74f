#!/usr/bin/python3
"""PyTorch CPU peer for model.BenchmarkEncoderForward: the same encoder
(BERT: vocab 30522, hidden 256, 4 layers, 4 heads, FFN 1024, post-LN, GELU,
mean pooling, L2 norm), same batch (32 x 128 tokens), inference mode.
Prints one line: "torch <tokens/s>". Threads: $THREADS (default: all cores).
With --summarize it reads "tdro torch" tokens/s pairs (one round per line)
from stdin and prints medians, ranges and the per-round ratio.
"""
import os
import statistics
import sys
import time

import torch

V, D, L, H, F, P = 30522, 256, 4, 4, 1024, 512
B, N = 32, 128


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    torch.manual_seed(0)
    word, pos, typ = torch.nn.Embedding(V, D), torch.nn.Embedding(P, D), torch.nn.Embedding(2, D)
    ln = torch.nn.LayerNorm(D, eps=1e-12)
    enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(
        D, H, F, dropout=0.0, activation="gelu", layer_norm_eps=1e-12, batch_first=True), L,
        enable_nested_tensor=False)
    for m in (word, pos, typ, ln, enc):
        m.eval()
    ids = (torch.arange(B * N) * 7919 + 13).remainder(V).view(B, N)
    mask = torch.ones(B, N, dtype=torch.long)

    def forward():
        x = ln(word(ids) + pos(torch.arange(N))[None] + typ(torch.zeros_like(ids)))
        x = enc(x, src_key_padding_mask=(mask == 0))
        m = mask[..., None].float()
        e = (x * m).sum(1) / m.sum(1)
        return torch.nn.functional.normalize(e, dim=-1)

    iters = int(os.environ.get("ITERS", "5"))
    with torch.inference_mode():
        forward()  # warm-up
        t = time.perf_counter()
        for _ in range(iters):
            forward()
        dt = time.perf_counter() - t
    print(f"torch {B * N * iters / dt:.1f}")


def summarize():
    rows = [tuple(map(float, line.split())) for line in sys.stdin if line.strip()]
    g, t = [r[0] for r in rows], [r[1] for r in rows]
    ratios = [a / b for a, b in rows]
    print(f"{'implementation':28s} {'median tokens/s':>16s} {'range':>20s}")
    print(f"{'tdro (GoMLX Go backend)':28s} {statistics.median(g):16.0f} {min(g):9.0f} - {max(g):8.0f}")
    print(f"{'PyTorch ' + torch.__version__ + ' CPU':28s} {statistics.median(t):16.0f} {min(t):9.0f} - {max(t):8.0f}")
    print(f"ratio tdro/torch per round: median {statistics.median(ratios):.2f} (range {min(ratios):.2f} - {max(ratios):.2f})")


if __name__ == "__main__":
    summarize() if sys.argv[1:] == ["--summarize"] else main()
