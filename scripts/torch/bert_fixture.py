#!/usr/bin/python3
"""Writes model/testdata/bert-torch and model/testdata/roberta-torch: tiny
random BERT and RoBERTa checkpoints and the hidden states PyTorch's own
modules compute for them. RoBERTa differs in its position ids (padding_idx+1
onwards for real tokens, padding_idx for padding) and has one token type.

The reference is built from torch.nn modules only (nn.Embedding, nn.LayerNorm,
nn.TransformerEncoderLayer with BERT's settings: post-LN, exact GELU, no
dropout, batch_first), not from our code and not from transformers (which is
not installable here). The weights are written under Hugging Face BertModel's
tensor names, so model.Load's name mapping is exercised too.

Run: scripts/torch/install.sh && /usr/bin/python3 scripts/torch/bert_fixture.py
"""
import json
import os
import struct
import sys

import torch

TESTDATA = os.path.join(os.path.dirname(__file__), "..", "..", "model", "testdata")

BERT = dict(model_type="bert", architectures=["BertModel"], vocab_size=100, hidden_size=32,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
            hidden_act="gelu", pad_token_id=0, tie_word_embeddings=True)
ROBERTA = dict(BERT, model_type="roberta", architectures=["RobertaModel"], max_position_embeddings=66,
               type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_fixture(name, weights, config, ids, mask, hidden, generator):
    """Writes TESTDATA/name: model.safetensors, config.json and expected.json
    (the input ids and mask and the hidden states model.Load must reproduce),
    naming the generator script."""
    out = os.path.join(TESTDATA, name)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "model.safetensors"), weights)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"generator": "scripts/torch/" + os.path.basename(generator), "torch": torch.__version__,
                   "ids": ids.tolist(), "mask": mask.tolist(),
                   "hidden": [[[round(v, 7) for v in tok] for tok in row] for row in hidden.tolist()]}, f)
    print("wrote", os.path.normpath(out), "torch", torch.__version__, file=sys.stderr)


def build(c, name, seed):
    torch.manual_seed(seed)
    d, L = c["hidden_size"], c["num_hidden_layers"]
    word = torch.nn.Embedding(c["vocab_size"], d)
    pos = torch.nn.Embedding(c["max_position_embeddings"], d)
    typ = torch.nn.Embedding(c["type_vocab_size"], d)
    emb_ln = torch.nn.LayerNorm(d, eps=c["layer_norm_eps"])
    layers = [torch.nn.TransformerEncoderLayer(d, c["num_attention_heads"], c["intermediate_size"], dropout=0.0,
                                               activation="gelu", layer_norm_eps=c["layer_norm_eps"],
                                               batch_first=True, norm_first=False) for _ in range(L)]
    # Random (not default) norms and biases, so that every parameter matters.
    with torch.no_grad():
        for m in [emb_ln] + [l.norm1 for l in layers] + [l.norm2 for l in layers]:
            m.weight.normal_(1.0, 0.1)
            m.bias.normal_(0.0, 0.1)
        for l in layers:
            l.self_attn.in_proj_bias.normal_(0, 0.1)
            l.self_attn.out_proj.bias.normal_(0, 0.1)
            l.linear1.bias.normal_(0, 0.1)
            l.linear2.bias.normal_(0, 0.1)
    for l in layers:
        l.eval()

    pad = c["pad_token_id"]
    ids = torch.tensor([[2, 45, 17, 88, 3, 61, 9, 33, 71, 5, 99, 4],
                        [2, 12, 13, 14, 4, 0, 0, 0, 0, 0, 0, 0],
                        [2, 7, 66, 54, 23, 90, 11, 4, 0, 0, 0, 0]])
    mask = (ids != 0).long()
    ids = ids.masked_fill(mask == 0, pad)
    with torch.no_grad():
        n = ids.shape[1]
        if c["model_type"] == "roberta":  # transformers' create_position_ids_from_input_ids
            positions = torch.cumsum(mask, dim=1) * mask + pad
        else:
            positions = torch.arange(n)[None].expand(ids.shape)
        x = word(ids) + pos(positions) + typ(torch.zeros_like(ids))
        x = emb_ln(x)
        for l in layers:
            x = l(x, src_key_padding_mask=(mask == 0))

    w = {
        "embeddings.word_embeddings.weight": word.weight,
        "embeddings.position_embeddings.weight": pos.weight,
        "embeddings.token_type_embeddings.weight": typ.weight,
        "embeddings.LayerNorm.weight": emb_ln.weight,
        "embeddings.LayerNorm.bias": emb_ln.bias,
    }
    for i, l in enumerate(layers):
        p = f"encoder.layer.{i}."
        qw, kw, vw = l.self_attn.in_proj_weight.chunk(3)
        qb, kb, vb = l.self_attn.in_proj_bias.chunk(3)
        w.update({
            p + "attention.self.query.weight": qw, p + "attention.self.query.bias": qb,
            p + "attention.self.key.weight": kw, p + "attention.self.key.bias": kb,
            p + "attention.self.value.weight": vw, p + "attention.self.value.bias": vb,
            p + "attention.output.dense.weight": l.self_attn.out_proj.weight,
            p + "attention.output.dense.bias": l.self_attn.out_proj.bias,
            p + "attention.output.LayerNorm.weight": l.norm1.weight,
            p + "attention.output.LayerNorm.bias": l.norm1.bias,
            p + "intermediate.dense.weight": l.linear1.weight, p + "intermediate.dense.bias": l.linear1.bias,
            p + "output.dense.weight": l.linear2.weight, p + "output.dense.bias": l.linear2.bias,
            p + "output.LayerNorm.weight": l.norm2.weight, p + "output.LayerNorm.bias": l.norm2.bias,
        })
    # Padded positions are not compared (PyTorch's fast path zeroes them).
    write_fixture(name, w, c, ids, mask, x, __file__)


def main():
    build(BERT, "bert-torch", 1234)
    build(ROBERTA, "roberta-torch", 2345)


if __name__ == "__main__":
    main()
