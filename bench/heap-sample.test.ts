import { test } from "node:test";
import assert from "node:assert/strict";
import { summarizeHeapProfile, type HeapProfileNode } from "./heap-sample.js";

const node = (functionName: string, url: string, lineNumber: number, selfSize: number, children: HeapProfileNode[] = []) => ({
  callFrame: { functionName, url, lineNumber },
  selfSize,
  children,
});

test("summarizeHeapProfile: bytes per allocating function and per nearest frame of the project's code above it", () => {
  const ours = "file:///work/main/dist/src/engine/engine.js";
  const head = node("(root)", "", -1, 0, [
    node("processImmediate", "node:internal/timers", 475, 300, [node("poll", "", -1, 200)]),
    node("loop", ours, 251, 0, [
      node("plan", ours, 268, 50, [node("from", "", -1, 100)]),
      node("complete", ours, 411, 0, [node("from", "", -1, 25)]),
    ]),
  ]);
  const { self, caller } = summarizeHeapProfile(head);
  assert.deepEqual(self, [
    { site: "processImmediate node:internal/timers:476", bytes: 300 },
    { site: "poll (native):0", bytes: 200 },
    { site: "from (native):0", bytes: 125 },
    { site: "plan dist/src/engine/engine.js:269", bytes: 50 },
  ]);
  // Each allocation is charged to the nearest frame of ours above it (a builtin's under plan() to plan); the
  // polling under processImmediate has none.
  assert.deepEqual(caller, [
    { site: "(outside)", bytes: 500 },
    { site: "plan dist/src/engine/engine.js:269", bytes: 150 },
    { site: "complete dist/src/engine/engine.js:412", bytes: 25 },
  ]);
});
