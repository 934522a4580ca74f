#!/usr/bin/python3
"""PyTorch CPU peer for model.BenchmarkEncoderForward: the same encoder
(BERT: vocab 30522, hidden 256, 4 layers, 4 heads, FFN 1024, post-LN, GELU,
mean pooling, L2 norm), same batch (32 x 128 tokens), inference mode.
Prints one line: "torch <tokens/s>". Threads: $THREADS (default: all cores).
"""
import os
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


if __name__ == "__main__":
    main()
