#!/usr/bin/python3
"""Writes model/testdata/qwen2-torch and model/testdata/llama-torch: tiny
random decoder checkpoints and their last hidden states computed by a
PyTorch transcription of Hugging Face's Qwen2Model / LlamaModel forward
(transformers cannot be installed here): RMSNorm, rotate_half RoPE,
grouped-query attention via repeat_kv, SwiGLU MLP, causal + padding mask,
right-padded batch. Qwen2 adds q/k/v bias; the Llama one uses Llama 3.1's
rope_scaling ("llama3") and is saved as LlamaForCausalLM ("model." names and
an untied lm_head).

Run: scripts/torch/install.sh && /usr/bin/python3 scripts/torch/decoder_fixture.py
"""
import math
import os
import sys

import torch

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(__file__))
from bert_fixture import write_fixture  # noqa: E402

QWEN2 = dict(model_type="qwen2", architectures=["Qwen2Model"], vocab_size=100, hidden_size=32,
             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=48,
             max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=10000.0, hidden_act="silu",
             tie_word_embeddings=True)
LLAMA = dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=100, hidden_size=32,
             num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2, intermediate_size=40,
             max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=500000.0, hidden_act="silu",
             tie_word_embeddings=False, attention_bias=False,
             rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                               original_max_position_embeddings=64))


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama3_inv_freq(inv_freq, r):
    """transformers' _compute_llama3_parameters."""
    old = r["original_max_position_embeddings"]
    low_wave, high_wave = old / r["low_freq_factor"], old / r["high_freq_factor"]
    wave = 2 * math.pi / inv_freq
    out = torch.where(wave > low_wave, inv_freq / r["factor"], inv_freq)
    smooth = (old / wave - r["low_freq_factor"]) / (r["high_freq_factor"] - r["low_freq_factor"])
    smoothed = (1 - smooth) * out / r["factor"] + smooth * out
    medium = ~(wave < high_wave) * ~(wave > low_wave)
    return torch.where(medium, smoothed, out)


def build(c, name, seed):
    torch.manual_seed(seed)
    bias = c["model_type"] == "qwen2"
    d, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd, inter = d // H, c["intermediate_size"]
    g = lambda *s, std=0.1: torch.randn(*s) * std  # noqa: E731
    w = {"embed_tokens.weight": g(c["vocab_size"], d, std=1.0)}
    for i in range(c["num_hidden_layers"]):
        p = f"layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + g(d)
        for n, rows in (("q_proj", H * hd), ("k_proj", KV * hd), ("v_proj", KV * hd)):
            w[p + f"self_attn.{n}.weight"] = g(rows, d, std=0.2)
            if bias:
                w[p + f"self_attn.{n}.bias"] = g(rows)
        w[p + "self_attn.o_proj.weight"] = g(d, H * hd, std=0.2)
        w[p + "post_attention_layernorm.weight"] = 1 + g(d)
        w[p + "mlp.gate_proj.weight"] = g(inter, d, std=0.2)
        w[p + "mlp.up_proj.weight"] = g(inter, d, std=0.2)
        w[p + "mlp.down_proj.weight"] = g(d, inter, std=0.2)
    w["norm.weight"] = 1 + g(d)

    ids = torch.tensor([[5, 45, 17, 88, 3, 61, 9, 33, 71, 5],
                        [7, 12, 13, 14, 0, 0, 0, 0, 0, 0],
                        [9, 66, 54, 23, 90, 11, 4, 0, 0, 0]])
    mask = torch.tensor([[1] * 10, [1] * 4 + [0] * 6, [1] * 7 + [0] * 3])
    B, N = ids.shape
    lin = torch.nn.functional.linear
    with torch.no_grad():
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        if c.get("rope_scaling"):
            inv_freq = llama3_inv_freq(inv_freq, c["rope_scaling"])
        pos = torch.arange(N).float()
        freqs = torch.outer(pos, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        causal = torch.tril(torch.ones(N, N, dtype=torch.bool))
        allowed = causal[None, None] & mask.bool()[:, None, None, :]
        bias = torch.zeros(B, 1, N, N).masked_fill(~allowed, torch.finfo(torch.float32).min)
        x = w["embed_tokens.weight"][ids]
        for i in range(c["num_hidden_layers"]):
            p = f"layers.{i}."
            h = rms_norm(x, w[p + "input_layernorm.weight"], c["rms_norm_eps"])
            q = lin(h, w[p + "self_attn.q_proj.weight"], w.get(p + "self_attn.q_proj.bias")).view(B, N, H, hd).transpose(1, 2)
            k = lin(h, w[p + "self_attn.k_proj.weight"], w.get(p + "self_attn.k_proj.bias")).view(B, N, KV, hd).transpose(1, 2)
            v = lin(h, w[p + "self_attn.v_proj.weight"], w.get(p + "self_attn.v_proj.bias")).view(B, N, KV, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k[:, :, None].expand(B, KV, H // KV, N, hd).reshape(B, H, N, hd)  # repeat_kv
            v = v[:, :, None].expand(B, KV, H // KV, N, hd).reshape(B, H, N, hd)
            att = q @ k.transpose(2, 3) / math.sqrt(hd) + bias
            att = torch.softmax(att.float(), dim=-1)
            o = (att @ v).transpose(1, 2).reshape(B, N, H * hd)
            x = x + lin(o, w[p + "self_attn.o_proj.weight"])
            h = rms_norm(x, w[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
            gate = torch.nn.functional.silu(lin(h, w[p + "mlp.gate_proj.weight"]))
            x = x + lin(gate * lin(h, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
        x = rms_norm(x, w["norm.weight"], c["rms_norm_eps"])

    if not c["tie_word_embeddings"]:  # LlamaForCausalLM layout: "model." prefix and a head
        w = {"model." + k: v for k, v in w.items()}
        w["lm_head.weight"] = g(c["vocab_size"], d)
    write_fixture(name, w, c, ids, mask, x, __file__)


def main():
    build(QWEN2, "qwen2-torch", 4321)
    build(LLAMA, "llama-torch", 5678)


if __name__ == "__main__":
    main()
