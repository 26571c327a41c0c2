/**
 * vLLM's structured-output fields over HTTP with the official openai client on the tiny checkpoint (random
 * sampling, several seeds): `guided_choice`, `structured_outputs.regex`, `guided_json`, on both routes; and the
 * 400s for several kinds at once, a grammar, an empty choice list, bad regex syntax and a JSON string that does
 * not parse. The openai client sends keys its types do not know as they are.
 */

import test from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import OpenAI from "openai";
import { startTinyServer } from "./support/tiny-server.js";

const NAME = "tiny";
const { client } = await startTinyServer({ name: NAME, maxNumSeqs: 8 });

const SEEDS = [0, 1, 2, 3, 4, 5];
const messages = [{ role: "user" as const, content: "答えて" }];

/** A chat request with vLLM's extra fields (the client's types do not know them). */
const chat = (extra: object) =>
  client.chat.completions.create({
    model: NAME,
    messages,
    temperature: 1,
    max_tokens: 40,
    ...extra,
  } as OpenAI.ChatCompletionCreateParamsNonStreaming);
const completion = (extra: object) =>
  client.completions.create({
    model: NAME,
    prompt: "答え:",
    temperature: 1,
    max_tokens: 40,
    ...extra,
  } as OpenAI.CompletionCreateParamsNonStreaming);

test("guided_choice: every seed answers with exactly one of the choices, on both routes and with n > 1", async () => {
  const choices = ["はい", "いいえ", "たぶん", "yes, definitely"];
  const seen = new Set<string>();
  for (const seed of SEEDS) {
    const response = await chat({ seed, guided_choice: choices, temperature: 3 });
    const text = response.choices[0].message.content ?? "";
    assert.ok(choices.includes(text), `${JSON.stringify(text)} is one of the choices`);
    assert.equal(response.choices[0].finish_reason, "stop");
    seen.add(text);
  }
  const many = await completion({ seed: 9, n: 4, structured_outputs: { choice: choices } });
  for (const c of many.choices) assert.ok(choices.includes(c.text), `${JSON.stringify(c.text)} is one of the choices`);
  assert.ok(seen.size >= 2, `random sampling picks different choices: ${[...seen].join(" | ")}`);
});

test("structured_outputs.regex and guided_regex: the whole output matches (JS RegExp as the reference)", async () => {
  for (const [pattern, field] of [
    ["\\d{3}-\\d{4}", "structured_outputs"],
    ["(?:東京|大阪|名古屋)(?:都|府|市)", "guided"],
    ["[a-z]{2,6}@[a-z]{2,6}\\.(?:com|jp)", "structured_outputs"],
  ] as const) {
    const reference = new RegExp(`^(?:${pattern})$`, "u");
    for (const seed of SEEDS) {
      const extra = field === "guided" ? { guided_regex: pattern } : { structured_outputs: { regex: pattern } };
      const chatText = (await chat({ seed, ...extra })).choices[0].message.content ?? "";
      assert.match(chatText, reference, `chat, seed ${seed}`);
      const completionText = (await completion({ seed, ...extra })).choices[0].text;
      assert.match(completionText, reference, `completion, seed ${seed}`);
    }
  }
});

test("guided_json (object or JSON text) and structured_outputs.json: output parses and matches the schema", async () => {
  const schema = {
    type: "object",
    properties: { city: { enum: ["東京", "大阪"] }, days: { type: "integer", minimum: 1, maximum: 9 } },
    required: ["city", "days"],
    additionalProperties: false,
  };
  const validate = new Ajv({ strict: false }).compile(schema);
  for (const seed of SEEDS) {
    const extra = [{ guided_json: schema }, { guided_json: JSON.stringify(schema) }, { structured_outputs: { json: schema } }][seed % 3];
    const response = await chat({ seed, max_tokens: 200, ...extra });
    const text = response.choices[0].message.content ?? "";
    assert.equal(response.choices[0].finish_reason, "stop", text);
    assert.ok(validate(JSON.parse(text)), `${text} does not match: ${JSON.stringify(validate.errors)}`);
  }
  // disable_any_whitespace: JSON without whitespace.
  const compact = await completion({ seed: 3, structured_outputs: { json: schema, disable_any_whitespace: true } });
  assert.ok(validate(JSON.parse(compact.choices[0].text)));
  assert.doesNotMatch(compact.choices[0].text, /\s/);
});

/** Rejects with a 400 whose body is an OpenAI error object naming `param`, its message matching `pattern`. */
async function rejects400(request: Promise<unknown>, pattern: RegExp, param: string): Promise<void> {
  await assert.rejects(request, (error: unknown) => {
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, pattern);
    assert.deepEqual(Object.keys(error.error as object).sort(), ["code", "message", "param", "type"]);
    assert.equal(error.param, param);
    assert.equal(error.type, "BadRequestError");
    return true;
  });
}

test("two kinds at once, a grammar, an empty choice list, bad regex syntax, JSON text that does not parse: 400s", async () => {
  const schema = { type: "object" };
  const several = /You can only use one kind of structured outputs constraint but multiple are specified/;
  await rejects400(chat({ guided_json: schema, guided_choice: ["a"] }), several, "guided_choice");
  await rejects400(completion({ response_format: { type: "json_object" }, guided_regex: "a+" }), several, "guided_regex");
  await rejects400(chat({ structured_outputs: { regex: "a", choice: ["a"] } }), several, "structured_outputs.choice");
  await rejects400(completion({ structured_outputs: { json: schema }, guided_json: schema }), several, "guided_json");
  await rejects400(
    chat({ guided_grammar: 'root ::= "a"' }),
    /guided_grammar \(an EBNF \/ Lark grammar\) is not supported.*use structured_outputs.regex/,
    "guided_grammar",
  );
  await rejects400(completion({ structured_outputs: { grammar: 'root ::= "a"' } }), /not supported/, "structured_outputs.grammar");
  await rejects400(chat({ guided_choice: [] }), /needs at least one string/, "guided_choice");
  await rejects400(chat({ guided_regex: "(?<=a)b" }), /unsupported regex syntax.*lookaround/, "guided_regex");
  await rejects400(completion({ guided_json: "{not json" }), /guided_json is not valid JSON/, "guided_json");
  await rejects400(
    chat({ guided_json: schema, guided_whitespace_pattern: "[ ]?" }),
    /guided_whitespace_pattern is not supported/,
    "guided_whitespace_pattern",
  );
  await rejects400(chat({ structured_outputs: {} }), /You must use one kind of structured outputs constraint/, "structured_outputs");
  // The backend name is accepted and ignored.
  const named = await chat({ seed: 1, guided_choice: ["x", "y"], guided_decoding_backend: "xgrammar" });
  assert.ok(["x", "y"].includes(named.choices[0].message.content ?? ""));
});
