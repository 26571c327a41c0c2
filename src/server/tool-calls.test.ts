import test from "node:test";
import assert from "node:assert/strict";
import { forcedToolSchema, parseLlamaToolCalls, templateMessages, templateSupportsTools } from "./tool-calls.js";
import type { ToolDefinition } from "./request-schema.js";

const tools: ToolDefinition[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
  { type: "function", function: { name: "search" } },
];

test("Llama 3.1 tool calls: one JSON object, arguments as a JSON string", () => {
  const calls = parseLlamaToolCalls(' {"name": "get_weather", "parameters": {"city": "大阪"}}', tools);
  assert.equal(calls?.length, 1);
  assert.equal(calls![0].function.name, "get_weather");
  assert.equal(calls![0].function.arguments, '{"city":"大阪"}');
  assert.equal(calls![0].type, "function");
});

test("Llama 3.1 tool calls: python_tag prefix, several calls split by ';', braces inside strings", () => {
  const calls = parseLlamaToolCalls(
    '<|python_tag|>{"name": "search", "parameters": {"q": "a}b{"}}; {"name": "get_weather", "arguments": {}}',
    tools,
  );
  assert.deepEqual(
    calls?.map((c) => [c.function.name, c.function.arguments]),
    [
      ["search", '{"q":"a}b{"}'],
      ["get_weather", "{}"],
    ],
  );
  assert.notEqual(calls![0].id, calls![1].id);
});

test("Llama 3.1 tool calls: ordinary text, unknown tools and broken JSON are not calls", () => {
  assert.equal(parseLlamaToolCalls("東京は晴れです", tools), null);
  assert.equal(parseLlamaToolCalls('{"name": "rm_rf", "parameters": {}}', tools), null);
  assert.equal(parseLlamaToolCalls('{"name": "search", "parameters": {', tools), null);
  assert.equal(parseLlamaToolCalls('{"name": "search", "parameters": {}} trailing', tools), null);
  assert.equal(parseLlamaToolCalls('{"answer": 42}', tools), null);
});

test("template tool support is whether the template mentions tools", () => {
  assert.equal(templateSupportsTools("{% if tools is not none %}x{% endif %}"), true);
  assert.equal(templateSupportsTools("{{ bos_token }}{% for m in messages %}{% endfor %}"), false);
  assert.equal(templateSupportsTools(null), false);
});

test("forced tool choice: schema of the allowed {name, parameters} objects; an unknown name is a 400", () => {
  assert.equal(forcedToolSchema(tools, "auto"), null);
  assert.deepEqual(forcedToolSchema(tools, { type: "function", function: { name: "search" } }), {
    type: "object",
    properties: { name: { const: "search" }, parameters: { type: "object" } },
    required: ["name", "parameters"],
  });
  assert.equal((forcedToolSchema(tools, "required") as { anyOf: unknown[] }).anyOf.length, 2);
  assert.throws(() => forcedToolSchema(tools, { type: "function", function: { name: "nope" } }), /not in tools/);
});

test("template messages: text parts joined, tool call arguments parsed to objects", () => {
  const out = templateMessages([
    {
      role: "user",
      content: [
        { type: "text", text: "a" },
        { type: "text", text: "b" },
      ],
    },
    { role: "assistant", content: null, tool_calls: [{ id: "1", type: "function", function: { name: "search", arguments: '{"q":"x"}' } }] },
  ]);
  assert.equal(out[0].content, "ab");
  assert.equal(out[1].content, "");
  assert.deepEqual((out[1].tool_calls as { function: { arguments: unknown } }[])[0].function.arguments, { q: "x" });
  assert.throws(() => templateMessages([{ role: "user", content: [{ type: "image_url" }] }]), /only text content parts/);
});
