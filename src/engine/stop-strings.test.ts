import { test } from "node:test";
import assert from "node:assert/strict";
import { StopStringMatcher } from "./stop-strings.js";
import { Rng } from "./rng.js";
import { SwallowError } from "../errors.js";

function feed(matcher: StopStringMatcher, chunks: string[]): { texts: string[]; stop: string | null } {
  const texts: string[] = [];
  let stop: string | null = null;
  for (const chunk of chunks) {
    const step = matcher.push(chunk);
    texts.push(step.text);
    if (step.stop !== null) {
      stop = step.stop;
      break;
    }
  }
  if (stop === null) texts.push(matcher.flush());
  return { texts, stop };
}

test("a stop string inside one chunk ends the stream; it and what follows are not emitted", () => {
  const m = new StopStringMatcher(["STOP"]);
  assert.deepEqual(m.push("Hello STOP world"), { text: "Hello ", stop: "STOP" });
  assert.equal(m.stopped, "STOP");
  assert.deepEqual(m.push("more"), { text: "", stop: null });
  assert.equal(m.flush(), "");
});

test("a stop string spanning several chunks is held back and never shown in part", () => {
  const m = new StopStringMatcher(["STOP"]);
  assert.deepEqual(feed(m, ["Hel", "lo S", "T", "OP wor", "ld"]), { texts: ["Hel", "lo ", "", ""], stop: "STOP" });
  const n = new StopStringMatcher(["STOP"]);
  assert.deepEqual(feed(n, ["a S", "T", "x", "y"]), { texts: ["a ", "", "STx", "y", ""], stop: null });
});

test("held-back tail is released by flush when generation ends another way", () => {
  const m = new StopStringMatcher(["\nUser:"]);
  assert.deepEqual(m.push("答え\nUs"), { text: "答え", stop: null });
  assert.equal(m.flush(), "\nUs");
});

test("Japanese stop strings across chunk boundaries, with false starts", () => {
  const m = new StopStringMatcher(["ユーザー:", "。\n\n"]);
  const got = feed(m, ["東京タワーは", "赤い。", "\n", "ユー", "ザ", "ではない。\n", "\n次の段落"]);
  assert.equal(got.stop, "。\n\n");
  assert.equal(got.texts.join(""), "東京タワーは赤い。\nユーザではない");
  assert.deepEqual(got.texts.slice(0, 3), ["東京タワーは", "赤い", ""]);
});

test("emoji: stop strings of surrogate pairs, and a pair split between chunks is never split in the output", () => {
  const m = new StopStringMatcher(["🦙🦙"]);
  assert.deepEqual(feed(m, ["I like 🦙", "🦙 a lot"]), { texts: ["I like ", ""], stop: "🦙🦙" });

  const n = new StopStringMatcher(["END"]);
  const llama = "🦙";
  assert.deepEqual(n.push("a" + llama[0]), { text: "a", stop: null });
  assert.deepEqual(n.push(llama[1] + "b"), { text: "🦙b", stop: null });

  const o = new StopStringMatcher(["🦙x"]);
  assert.deepEqual(feed(o, ["🦙", "🦙", "y🦙", "x"]), { texts: ["", "🦙", "🦙y", ""], stop: "🦙x" });
});

test("the earliest occurrence wins among several stop strings; overlapping prefixes work", () => {
  const m = new StopStringMatcher(["world", "lo w"]);
  assert.deepEqual(m.push("hello world"), { text: "hel", stop: "lo w" });
  const n = new StopStringMatcher(["aab"]);
  assert.deepEqual(feed(n, ["a", "a", "a", "b", "c"]), { texts: ["", "", "a", ""], stop: "aab" });
});

test("includeStopString emits the stop string too", () => {
  const m = new StopStringMatcher(["</answer>"], { includeStopString: true });
  assert.deepEqual(feed(m, ["42</ans", "wer> tail"]), { texts: ["42", "</answer>"], stop: "</answer>" });
});

test("unchecked chunks (before min_tokens) do not stop, but a stop string completing later still does", () => {
  const m = new StopStringMatcher(["STOP"]);
  assert.deepEqual(m.push("xSTOPy ST", { checkStop: false }), { text: "xSTOPy ", stop: null });
  assert.deepEqual(m.push("OP!"), { text: "", stop: "STOP" });
  const n = new StopStringMatcher(["STOP"]);
  assert.deepEqual(n.push("ST", { checkStop: false }), { text: "", stop: null });
  assert.deepEqual(n.push("OP", { checkStop: false }), { text: "STOP", stop: null });
  assert.deepEqual(n.push(" done"), { text: " done", stop: null });
});

test("no stop strings: everything passes straight through; empty stop strings are user errors", () => {
  const m = new StopStringMatcher([]);
  assert.deepEqual(m.push("any text"), { text: "any text", stop: null });
  assert.throws(() => new StopStringMatcher(["ok", ""]), SwallowError);
});

test("random streams and chunkings agree with a whole-text search", () => {
  const pieces = ["a", "b", "。", "東京", "🦙", "\n", "ab", "x"];
  const stopSets = [["ab🦙"], ["。\n", "b東"], ["aa", "🦙🦙", "x。"], ["東京🦙\n"]];
  const rng = new Rng(99);
  const pick = <T>(list: T[]): T => list[Math.floor(rng.nextFloat() * list.length)];
  for (let trial = 0; trial < 2000; trial++) {
    const stops = pick(stopSets);
    let text = "";
    const length = 1 + Math.floor(rng.nextFloat() * 12);
    for (let i = 0; i < length; i++) text += pick(pieces);
    let first = -1;
    let firstStop: string | null = null;
    for (const s of stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) [first, firstStop] = [at, s];
    }
    const expected = first >= 0 ? text.slice(0, first) : text;
    // Random chunking on code point boundaries (as an incremental UTF-8 decoder would deliver them).
    const codePoints = Array.from(text);
    const chunks: string[] = [];
    for (let i = 0; i < codePoints.length;) {
      const n = 1 + Math.floor(rng.nextFloat() * 4);
      chunks.push(codePoints.slice(i, i + n).join(""));
      i += n;
    }
    const m = new StopStringMatcher(stops);
    const got = feed(m, chunks);
    assert.equal(got.texts.join(""), expected, `${JSON.stringify(chunks)} stops ${JSON.stringify(stops)}`);
    assert.equal(got.stop, firstStop);
    for (const emitted of got.texts) assert.ok(!/[\ud800-\udbff]$/.test(emitted), "split surrogate pair");
  }
});
