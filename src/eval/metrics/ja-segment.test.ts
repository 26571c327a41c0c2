import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { jaSplit, segmentJapaneseWords } from "./ja-segment.js";

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "nagisa-published.json"), "utf8")) as {
  examples: { source: string; text: string; words: string[] }[];
};

/** Positions (in code points) where a word ends, excluding the text's end: the segmentation as a set of cuts. */
function cuts(words: string[]): Set<number> {
  const out = new Set<number>();
  let at = 0;
  for (const w of words.slice(0, -1)) out.add((at += [...w].length));
  return out;
}

test("ICU segmentation equals nagisa's published output on the README and tutorial sentences", () => {
  for (const e of fixture.examples.slice(0, 2)) assert.deepEqual(segmentJapaneseWords(e.text), e.words, e.source);
});

test("on a long news sentence ICU agrees with nagisa on most word boundaries (the documented approximation)", () => {
  const e = fixture.examples[2];
  const ours = segmentJapaneseWords(e.text);
  assert.equal(ours.join(""), e.text, "segmentation only inserts boundaries");
  const mine = cuts(ours);
  const theirs = cuts(e.words);
  const shared = [...mine].filter((c) => theirs.has(c)).length;
  const precision = shared / mine.size;
  const recall = shared / theirs.size;
  const f1 = (2 * precision * recall) / (precision + recall);
  // Measured with Node 20's ICU: P 0.92, R 0.84, F1 0.88 (ICU keeps では, による, 中でも, 一段と, に対して whole and cuts
  // 激|しく, 強|め, 行|いま|した where nagisa has 激しく, 強め, 行い|まし|た).
  assert.ok(f1 > 0.85 && f1 < 1, `boundary F1 ${f1.toFixed(3)} (P ${precision.toFixed(3)}, R ${recall.toFixed(3)})`);
});

test("jaSplit strips like Python, drops whitespace and joins words with one space", () => {
  assert.equal(jaSplit("\u3000東京に行きました。\n"), jaSplit("東京に行きました。"));
  assert.equal(jaSplit("東京に行きました。").split(" ").join(""), "東京に行きました。");
  assert.ok(!jaSplit(" 今日は　晴れ ").includes("  "));
  assert.equal(jaSplit(""), "");
  assert.equal(jaSplit("   "), "");
});
