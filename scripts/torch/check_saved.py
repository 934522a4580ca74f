#!/usr/bin/python3
"""Reads a BERT checkpoint written by `tdro model init`/Model.Save with an
independent safetensors reader, builds it from torch.nn modules (as in
bert_fixture.py), embeds the given token ids with the sentence-transformers
pooling files (1_Pooling, 2_Normalize) and prints the vector as JSON.
Usage: check_saved.py CHECKPOINT_DIR ID...
"""
import json
import os
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


def main():
    d, ids = sys.argv[1], torch.tensor([[int(x) for x in sys.argv[2:]]])
    c = json.load(open(os.path.join(d, "config.json")))
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    assert c["model_type"] == "bert", c["model_type"]
    D, eps = c["hidden_size"], c["layer_norm_eps"]
    with torch.no_grad():
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: ids.shape[1]][None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = torch.nn.functional.layer_norm(x, (D,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            l = torch.nn.TransformerEncoderLayer(D, c["num_attention_heads"], c["intermediate_size"], dropout=0.0,
                                                 activation={"gelu": "gelu", "relu": "relu"}[c["hidden_act"]],
                                                 layer_norm_eps=eps, batch_first=True)
            sa = l.self_attn
            sa.in_proj_weight.copy_(torch.cat([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]))
            sa.in_proj_bias.copy_(torch.cat([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]))
            sa.out_proj.weight.copy_(w[p + "attention.output.dense.weight"])
            sa.out_proj.bias.copy_(w[p + "attention.output.dense.bias"])
            l.norm1.weight.copy_(w[p + "attention.output.LayerNorm.weight"])
            l.norm1.bias.copy_(w[p + "attention.output.LayerNorm.bias"])
            l.linear1.weight.copy_(w[p + "intermediate.dense.weight"])
            l.linear1.bias.copy_(w[p + "intermediate.dense.bias"])
            l.linear2.weight.copy_(w[p + "output.dense.weight"])
            l.linear2.bias.copy_(w[p + "output.dense.bias"])
            l.norm2.weight.copy_(w[p + "output.LayerNorm.weight"])
            l.norm2.bias.copy_(w[p + "output.LayerNorm.bias"])
            l.eval()
            x = l(x)
        modules = json.load(open(os.path.join(d, "modules.json")))
        pooling = json.load(open(os.path.join(d, "1_Pooling", "config.json")))
        if pooling["pooling_mode_mean_tokens"]:
            e = x.mean(1)
        elif pooling["pooling_mode_cls_token"]:
            e = x[:, 0]
        else:
            e = x[:, -1]
        if any(m["type"].endswith("Normalize") for m in modules):
            e = torch.nn.functional.normalize(e, dim=-1)
    print(json.dumps([round(v, 7) for v in e[0].tolist()]))


if __name__ == "__main__":
    main()
