import test from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel, SwallowError } from "../src/index.js";
import { repoRoot } from "./support/paths.js";

test("library API: loadModel + chat streams the answer and ends with a finish reason", async () => {
  const llm = await loadModel(join(repoRoot, "models", "demo"), { backend: "cpu" });
  let text = "";
  let finishReason: string | undefined;
  for await (const event of llm.chat([{ role: "user", content: "ls とは何ですか？" }], { temperature: 0, maxTokens: 12 })) {
    text += event.text;
    finishReason = event.finishReason ?? finishReason;
  }
  assert.ok(text.length > 0);
  assert.ok(finishReason === "length" || finishReason === "stop");
  // Same request, same greedy answer.
  let again = "";
  for await (const event of llm.chat([{ role: "user", content: "ls とは何ですか？" }], { temperature: 0, maxTokens: 12 }))
    again += event.text;
  assert.equal(again, text);
});

test("library API: a missing directory is a SwallowError naming it", async () => {
  await assert.rejects(loadModel("/nonexistent/model", { backend: "cpu" }), (error: unknown) => {
    assert.ok(error instanceof SwallowError);
    assert.match(error.message, /\/nonexistent\/model/);
    return true;
  });
});
