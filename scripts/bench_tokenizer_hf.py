#!/usr/bin/env python3
"""Tokenizer throughput of Hugging Face `tokenizers`, the reference for bench/tokenizer.ts.

Usage:
  python3 scripts/bench_tokenizer_hf.py --tokenizer PATH/tokenizer.json --text PATH/text.txt \
      [--repeat N] [--ids-in FILE] [--threads N]

Prints JSON lines shaped like the TypeScript bench's:
  {"impl": "hf-tokenizers", "mode": "encode", "mb_per_s": ..., "tokens": ..., "bytes": ...}
  {"impl": "hf-tokenizers", "mode": "encode_batch_lines", ...}
`encode` is one call on the whole text with add_special_tokens=False (single-threaded in Rust);
`encode_batch_lines` encodes the lines (newline kept on each) with encode_batch, which runs on
RAYON_NUM_THREADS threads (--threads sets it; default: all cores). The timed value is the median
of --repeat runs after a warm-up; a fresh Tokenizer is loaded for every run so that the BPE cache
starts empty, as the TypeScript bench clears its own.

--ids-in FILE (written by `node dist/bench/tokenizer.js --ids-out FILE`) checks that the ids are
identical to the TypeScript tokenizer's; a difference prints the first mismatch and exits 1.
"""

import argparse
import json
import os
import statistics
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--text", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ids-in")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)

    from tokenizers import Tokenizer, __version__  # imported after RAYON_NUM_THREADS is set

    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    n_bytes = len(text.encode("utf-8"))
    lines = text.splitlines(keepends=True)

    def timed(run):
        run(Tokenizer.from_file(args.tokenizer))  # warm-up
        seconds = []
        result = None
        for _ in range(max(1, args.repeat)):
            tok = Tokenizer.from_file(args.tokenizer)
            start = time.perf_counter()
            result = run(tok)
            seconds.append(time.perf_counter() - start)
        return statistics.median(seconds), result

    median, ids = timed(lambda tok: tok.encode(text, add_special_tokens=False).ids)
    print(json.dumps({"impl": "hf-tokenizers", "mode": "encode", "version": __version__,
                      "mb_per_s": round(n_bytes / 1e6 / median, 2), "tokens": len(ids), "bytes": n_bytes,
                      "median_s": round(median, 4)}))

    median_b, encs = timed(lambda tok: tok.encode_batch(lines, add_special_tokens=False))
    batch_tokens = sum(len(e.ids) for e in encs)
    print(json.dumps({"impl": "hf-tokenizers", "mode": "encode_batch_lines", "version": __version__,
                      "threads": int(os.environ.get("RAYON_NUM_THREADS", os.cpu_count() or 1)),
                      "mb_per_s": round(n_bytes / 1e6 / median_b, 2), "tokens": batch_tokens, "bytes": n_bytes,
                      "median_s": round(median_b, 4)}))

    if args.ids_in:
        with open(args.ids_in, encoding="utf-8") as f:
            theirs = json.load(f)
        if theirs != ids:
            first = next((i for i, (a, b) in enumerate(zip(theirs, ids)) if a != b), min(len(theirs), len(ids)))
            print(json.dumps({"ids_match": False, "first_mismatch": first, "ts_len": len(theirs), "hf_len": len(ids),
                              "ts": theirs[max(0, first - 3):first + 5], "hf": ids[max(0, first - 3):first + 5]}))
            return 1
        print(json.dumps({"ids_match": True, "tokens": len(ids)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
