/**
 * Tokenizer throughput: encodes a whole text file with the swallow tokenizer and prints one JSON line
 * {"impl":"swallow-ts","mb_per_s":…,"tokens":…,"bytes":…} (median of --repeat runs after a warm-up).
 *
 *   node dist/bench/tokenizer.js --tokenizer PATH/tokenizer.json --text PATH/text.txt [--repeat N] [--ids-out FILE]
 *
 * --ids-out writes the ids as a JSON array so scripts/bench_tokenizer_hf.py --ids-in FILE can check that
 * Hugging Face `tokenizers` produces the same ids. The BPE cache is cleared before every timed run
 * so each run starts cold like the first.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";

function main(): void {
  const { values } = parseArgs({
    options: {
      tokenizer: { type: "string" },
      text: { type: "string" },
      repeat: { type: "string", default: "5" },
      "ids-out": { type: "string" },
      "keep-cache": { type: "boolean", default: false },
    },
  });
  if (!values.tokenizer || !values.text) {
    console.error(
      "usage: node dist/bench/tokenizer.js --tokenizer PATH/tokenizer.json --text PATH/text.txt [--repeat N] [--ids-out FILE] [--keep-cache]",
    );
    process.exit(2);
  }
  const repeat = Math.max(1, Number(values.repeat));
  const loadStart = performance.now();
  const tokenizer = Tokenizer.fromJson(readFileSync(values.tokenizer, "utf8"), values.tokenizer);
  const loadMs = performance.now() - loadStart;
  const text = readFileSync(values.text, "utf8");
  const bytes = Buffer.byteLength(text, "utf8");

  let ids = tokenizer.encode(text); // warm-up (JIT)
  const seconds: number[] = [];
  for (let r = 0; r < repeat; r++) {
    if (!values["keep-cache"]) tokenizer.clearCache();
    const start = performance.now();
    ids = tokenizer.encode(text);
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(seconds.length / 2)];
  if (values["ids-out"]) writeFileSync(values["ids-out"], JSON.stringify(ids));
  console.log(
    JSON.stringify({
      impl: "swallow-ts",
      mb_per_s: Number((bytes / 1e6 / median).toFixed(2)),
      tokens: ids.length,
      bytes,
      median_s: Number(median.toFixed(4)),
      load_ms: Math.round(loadMs),
    }),
  );
}

main();
