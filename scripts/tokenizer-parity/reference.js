// Encodes the parity strings with Hugging Face's Rust tokenizers (the
// @anush008/tokenizers Node addon) and writes the expected ids.
// Usage: node reference.js strings.json tokenizerDir... > expected.json
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("@anush008/tokenizers");

async function main() {
  const [stringsFile, ...dirs] = process.argv.slice(2);
  const strings = JSON.parse(fs.readFileSync(stringsFile, "utf8"));
  const out = { generator: "scripts/tokenizer-parity/run.sh", reference: "@anush008/tokenizers@0.6.0 (HF tokenizers, Rust)", strings, ids: {} };
  for (const dir of dirs) {
    const tok = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
    tok.disableTruncation(); // tokenize/ truncates explicitly; compare full encodings
    tok.disablePadding();
    const ids = [];
    for (const s of strings) {
      const enc = await tok.encode(s.text, null, { addSpecialTokens: true });
      ids.push(Array.from(enc.getIds()));
    }
    out.ids[path.basename(dir)] = ids;
  }
  process.stdout.write(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
