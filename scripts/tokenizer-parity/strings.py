#!/usr/bin/env python3
"""Picks the parity test strings from the bundled training data
(../shared/data/train): a deterministic, evenly spaced sample of queries,
passages and code in 13 languages, kept as-is (no cleaning)."""
import csv
import json
import os
import sys

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
T = os.path.join(DATA, "train")


EDGE = [
    "soft\u00adhyphen", "zero\u200bwidth\u200djoiner", "\ufeffbom at start", "line\u2028separator\u2029para",
    "ideographic\u3000space", "nbsp\u00a0here", "tab\tand\vvertical\fform", "nel\u0085char", "ctrl\x01\x7fchars",
    "cafe\u0301 vs caf\u00e9", "\u0130stanbul \u0131\u0049", "Stra\u00dfe STRASSE", "\ufb01ne \u2163 \u00bd \u2460",
    "emoji \U0001F44D\U0001F3FD and \U0001F1EF\U0001F1F5 flags \U0001F468\u200d\U0001F469\u200d\U0001F467",
    "  leading and trailing  ", "a  b   c    d", "x \n\n y", "\n\nstarts with newlines", "ends with spaces   ",
    "line1\r\nline2\rline3", "\t\tindented code\n    more", "   ", "", "a",
    "I'M HE'S they'LL we'VE it'S you'D I'm", "\u017fome long-s 'ſ", "digits 1234567890 and 3.14159 and 1,000,000",
    "\u0661\u0662\u0663 arabic digits \u0968 devanagari", "<|endoftext|> inside <|im_start|>user text<|im_end|>",
    "[CLS] [SEP] [MASK] [PAD] [UNK] literal", "glued[SEP]tokens[cls]x<|endoftext|>y", "한국어\u3000띄어쓰기  두칸", "日本語の文章です。カタカナ、ひらがな！",
    "中文，标点！（括号）【方括号】", "Ελληνικά ΣΊΣΥΦΟΣ σίσυφος", "Русский ТЕКСТ ёЁ", "עברית וערבית العربية",
    "hindi हिन्दी ंः", "thai ภาษาไทย", "math ∑∫√ ≤≥ → ⇒", "https://example.com/path?q=1&b=2#frag",
    "snake_case camelCase PascalCase kebab-case", "a" * 120, "supercalifragilisticexpialidocious" * 4,
    "\u044b" * 60, "\uac00\ub098\ub2e4\ub77c\ub9c8\ubc14\uc0ac\uc544\uc790\ucc28\uce74\ud0c0\ud30c\ud558 short", "\u00e9" * 101,
]


def every(items, n):
    items = [s for s in items if s]
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def squad(path):
    qs, ctxs = [], []
    for art in json.load(open(path, encoding="utf-8"))["data"]:
        for p in art["paragraphs"]:
            ctxs.append(p["context"])
            qs.extend(q["question"] for q in p["qas"])
    return qs, ctxs


def main():
    out = []

    def add(source, texts):
        out.extend({"source": source, "text": t} for t in texts)

    for lang in ["de", "en", "es", "fr", "it", "ja", "nl", "pl", "pt", "ru", "zh"]:
        rows = list(csv.reader(open(os.path.join(T, "stsb_mt", f"stsb-{lang}-train.csv"), encoding="utf-8")))
        add(f"stsb-{lang}", every([r[0] for r in rows] + [r[1] for r in rows], 120))
    q, c = squad(os.path.join(T, "korquad", "KorQuAD_v1.0_dev.json"))
    add("korquad-q", every(q, 150))
    add("korquad-ctx", every(c, 40))
    rows = list(csv.reader(open(os.path.join(T, "ko_chatbot", "ChatbotData.csv"), encoding="utf-8")))[1:]
    add("ko_chatbot", every([r[0] for r in rows], 100))
    q, c = squad(os.path.join(T, "cmrc2018", "cmrc2018_dev.json"))
    add("cmrc2018-q", every(q, 100))
    add("cmrc2018-ctx", every(c, 30))
    q, c = squad(os.path.join(T, "drcd", "DRCD_dev.json"))
    add("drcd-q", every(q, 100))
    add("drcd-ctx", every(c, 30))
    pq = json.load(open(os.path.join(T, "pubmedqa", "ori_pqal.json"), encoding="utf-8"))
    items = [pq[k] for k in sorted(pq)]
    add("pubmedqa-q", every([i["QUESTION"] for i in items], 60))
    add("pubmedqa-ctx", every([" ".join(i["CONTEXTS"]) for i in items], 40))
    conala = json.load(open(os.path.join(T, "conala", "conala-train.json"), encoding="utf-8"))
    add("conala-intent", every([c["intent"] for c in conala], 80))
    add("conala-snippet", every([c["snippet"] for c in conala], 150))
    rows = list(csv.reader(open(os.path.join(T, "agnews", "test.csv"), encoding="utf-8")))
    add("agnews", every([r[1] + " " + r[2] for r in rows], 100))
    rows = list(csv.reader(open(os.path.join(T, "sick", "SICK.txt"), encoding="utf-8"), delimiter="\t"))[1:]
    add("sick", every([r[1] for r in rows], 60))
    # Hand-written edge cases on top of the real strings: Unicode whitespace,
    # format and control characters, case folding, accents, emoji, runs of
    # spaces and newlines, contractions, digits, special-token text.
    add("edge", EDGE)
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
