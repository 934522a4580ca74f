#!/usr/bin/python3
"""PyTorch CPU peer of `go test ./train -bench TrainStep`: one contrastive
training step (forward, backward, AdamW) of the same BERT-style encoder on the
same shapes, reported as seconds per step and tokens per second.

Architecture: word + position + type embeddings, LayerNorm, post-LN
TransformerEncoderLayers (exact GELU, no dropout), mean pooling, L2
normalisation; InfoNCE (temperature 0.05) of B queries against B passages
(in-batch negatives); AdamW (lr 1e-4, weight decay 0.01 on matrices only),
global-norm clipping at 1. Inputs are random token ids, all real (no padding).

Usage: bench_torch.py HIDDEN LAYERS FFN SEQ BATCH STEPS THREADS [DEVICE [DTYPE [ARCH HEADS KV VOCAB]]]
  DEVICE cpu (default) or cuda; DTYPE fp32 (default) or bf16 (autocast);
  ARCH bert (default; HEADS 4, VOCAB 30522) or qwen2 (transformers' Qwen2Model,
  random init, last-token pooling; the GPU check's Qwen2-0.5B shape).
Prints one line: torch <threads> <seconds/step> <tokens/s> <CPU seconds/step>
"""
import sys
import time

import torch


def main():
    hidden, layers, ffn, seq, batch, steps, threads = (int(a) for a in sys.argv[1:8])
    device = sys.argv[8] if len(sys.argv) > 8 else "cpu"
    dtype = sys.argv[9] if len(sys.argv) > 9 else "fp32"
    arch = sys.argv[10] if len(sys.argv) > 10 else "bert"
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    vocab, heads, kv = 30522, 4, 4
    if len(sys.argv) > 13:
        heads, kv, vocab = int(sys.argv[11]), int(sys.argv[12]), int(sys.argv[13])

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.word = torch.nn.Embedding(vocab, hidden)
            self.pos = torch.nn.Embedding(512, hidden)
            self.typ = torch.nn.Embedding(2, hidden)
            self.ln = torch.nn.LayerNorm(hidden, eps=1e-12)
            self.layers = torch.nn.ModuleList([
                torch.nn.TransformerEncoderLayer(hidden, heads, ffn, dropout=0.0, activation="gelu",
                                                 layer_norm_eps=1e-12, batch_first=True, norm_first=False)
                for _ in range(layers)])

        def forward(self, ids, mask):
            pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
            x = self.ln(self.word(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids)))
            pad = mask == 0
            for layer in self.layers:
                x = layer(x, src_key_padding_mask=pad)
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1)
            return torch.nn.functional.normalize(pooled, dim=-1)

    class Decoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            from transformers import Qwen2Config, Qwen2Model
            cfg = Qwen2Config(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                              num_key_value_heads=kv, intermediate_size=ffn, max_position_embeddings=32768,
                              rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True)
            cfg._attn_implementation = "sdpa"
            self.m = Qwen2Model(cfg)

        def forward(self, ids, mask):
            x = self.m(input_ids=ids, attention_mask=mask).last_hidden_state
            last = mask.sum(1) - 1
            pooled = x[torch.arange(x.shape[0], device=x.device), last]
            return torch.nn.functional.normalize(pooled.float(), dim=-1)

    model = (Decoder() if arch == "qwen2" else Encoder()).to(device)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, eps=1e-8)
    g = torch.Generator().manual_seed(2)
    q = torch.randint(1000, vocab, (batch, seq), generator=g).to(device)
    p = torch.randint(1000, vocab, (batch, seq), generator=g).to(device)
    mask = torch.ones(batch, seq, dtype=torch.long, device=device)
    target = torch.arange(batch, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=dtype == "bf16"):
            scores = model(q, mask) @ model(p, mask).T / 0.05
            loss = torch.nn.functional.cross_entropy(scores.float(), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()  # warm-up
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    sync()
    sec = (time.perf_counter() - t0) / steps
    cpu = (time.process_time() - c0) / steps
    print(f"torch {threads} {sec:.4f} {2 * batch * seq / sec:.1f} {cpu:.4f}")


if __name__ == "__main__":
    main()
