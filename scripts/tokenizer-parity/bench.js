// Rust tokenizers (npm @anush008/tokenizers) throughput on the parity
// strings: node bench.js parity.json.gz tokenizerDir... -> "name tokens/s".
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");
const { Tokenizer } = require("@anush008/tokenizers");

async function main() {
  const [fixture, ...dirs] = process.argv.slice(2);
  const texts = JSON.parse(zlib.gunzipSync(fs.readFileSync(fixture))).strings.map((s) => s.text);
  const rounds = Number(process.env.ROUNDS || 5);
  for (const dir of dirs) {
    const tok = Tokenizer.fromFile(path.join(dir, "tokenizer.json"));
    tok.disableTruncation();
    tok.disablePadding();
    await tok.encodeBatch(texts, { addSpecialTokens: true }); // warm-up
    let n = 0;
    const t = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      for (const e of await tok.encodeBatch(texts, { addSpecialTokens: true })) n += e.getIds().length;
    }
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(`${path.basename(dir)} ${(n / s).toFixed(0)}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
