import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDir } from "../../test/support/paths.js";
import { SwallowError } from "../errors.js";
import { DEFAULT_SYSTEM_PROMPT, parseTokenizerConfig, renderChatTemplate, strftime, type ChatMessage } from "./chat-template.js";

const tokenizerDir = join(sharedDir, "data", "llama3-tokenizer");
const configPath = join(tokenizerDir, "tokenizer_config.json");

interface ChatVector {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
}

test("parity with every chat vector of the Llama 3 tokenizer_config.json template", () => {
  const config = parseTokenizerConfig(readFileSync(configPath, "utf8"), configPath);
  assert.equal(config.bosToken, "<|begin_of_text|>");
  assert.equal(config.eosToken, "<|eot_id|>");
  assert.ok(config.chatTemplate);
  const vectors = JSON.parse(readFileSync(join(tokenizerDir, "vectors.json"), "utf8")) as { chat: ChatVector[] };
  assert.ok(vectors.chat.length >= 6);
  for (const vector of vectors.chat) {
    const text = renderChatTemplate(config.chatTemplate, vector.messages, {
      addGenerationPrompt: vector.add_generation_prompt,
      bosToken: config.bosToken ?? undefined,
      eosToken: config.eosToken ?? undefined,
      source: configPath,
    });
    assert.equal(text, vector.text);
  }
});

test("DEFAULT_SYSTEM_PROMPT is the model card's system prompt and renders as the first turn", () => {
  assert.equal(DEFAULT_SYSTEM_PROMPT, "あなたは誠実で優秀な日本人のアシスタントです。");
  const config = parseTokenizerConfig(readFileSync(configPath, "utf8"), configPath);
  const text = renderChatTemplate(
    config.chatTemplate!,
    [
      { role: "system", content: DEFAULT_SYSTEM_PROMPT },
      { role: "user", content: "🦙は何ですか？" },
    ],
    { addGenerationPrompt: true, bosToken: "<|begin_of_text|>" },
  );
  assert.ok(text.startsWith(`<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${DEFAULT_SYSTEM_PROMPT}<|eot_id|>`));
  assert.ok(text.endsWith("🦙は何ですか？<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));
});

/**
 * A template in the style of Meta's Llama-3.1-Instruct (shared/specs/llama3.md §4.4): BOS, a default
 * date_string "26 Jul 2024", the leading system message popped and trimmed, a system block that is always
 * emitted (with "Environment: ipython" when tools are given), then the turns and the generation prompt.
 */
const LLAMA31_STYLE = `{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message['role'] not in ['user', 'assistant', 'ipython'] %}
        {{- raise_exception("unsupported role " + message['role']) }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}`;

const BOS = "<|begin_of_text|>";
const SYSTEM_HEADER = "<|start_header_id|>system<|end_header_id|>\n\n";
const DATES = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

test("Llama-3.1 style template: system message trimmed into the always-present system block", () => {
  const text = renderChatTemplate(
    LLAMA31_STYLE,
    [
      { role: "system", content: `  ${DEFAULT_SYSTEM_PROMPT}\n` },
      { role: "user", content: "こんにちは" },
    ],
    { addGenerationPrompt: true, bosToken: BOS },
  );
  assert.equal(
    text,
    `${BOS}${SYSTEM_HEADER}${DATES}${DEFAULT_SYSTEM_PROMPT}<|eot_id|>` +
      "<|start_header_id|>user<|end_header_id|>\n\nこんにちは<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  );
});

test("Llama-3.1 style template: no system message still emits the system block; tools, extra and no generation prompt", () => {
  const messages = [{ role: "user", content: "hi" }];
  const plain = renderChatTemplate(LLAMA31_STYLE, messages, { addGenerationPrompt: false, bosToken: BOS });
  assert.equal(plain, `${BOS}${SYSTEM_HEADER}${DATES}<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>`);
  const withTools = renderChatTemplate(LLAMA31_STYLE, messages, {
    addGenerationPrompt: false,
    bosToken: BOS,
    tools: [{ type: "function", function: { name: "get_weather" } }],
    extra: { date_string: "01 Jan 2025" },
  });
  assert.ok(
    withTools.startsWith(`${BOS}${SYSTEM_HEADER}Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n`),
  );
});

test("continue_final_message: the final message left open, as the generation prompt followed by its text", () => {
  const config = parseTokenizerConfig(readFileSync(configPath, "utf8"), configPath);
  const template = config.chatTemplate!;
  const tokens = { bosToken: BOS, eosToken: "<|eot_id|>" };
  const question = [{ role: "user", content: "日本の首都は？" }];
  // The Llama 3 template trims contents: an answer started with trailing space continues after its trimmed text.
  for (const content of ["東京です。", "東京です。 ", "  東京"]) {
    const open = renderChatTemplate(template, [...question, { role: "assistant", content }], {
      addGenerationPrompt: false,
      continueFinalMessage: true,
      ...tokens,
    });
    const prompt = renderChatTemplate(template, question, { addGenerationPrompt: true, ...tokens });
    assert.equal(open, prompt + content.trim(), JSON.stringify(content));
  }
  // A template that keeps the content as given keeps its trailing whitespace too (transformers' rule).
  const verbatim = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}";
  const kept = renderChatTemplate(verbatim, [{ role: "assistant", content: "Hello " }], {
    addGenerationPrompt: false,
    continueFinalMessage: true,
  });
  assert.equal(kept, "<assistant>Hello ");
  assert.throws(
    () => renderChatTemplate(template, question, { addGenerationPrompt: true, continueFinalMessage: true, ...tokens }),
    (e: unknown) => e instanceof SwallowError && /cannot set both continue_final_message and add_generation_prompt/.test(e.message),
  );
  const shouting = "{% for m in messages %}{{ m.content | upper }}{% endfor %}";
  assert.throws(
    () =>
      renderChatTemplate(shouting, [{ role: "assistant", content: "hello" }], { addGenerationPrompt: false, continueFinalMessage: true }),
    (e: unknown) => e instanceof SwallowError && /final message does not appear in the rendered chat/.test(e.message),
  );
});

test("raise_exception and template errors are SwallowErrors naming the template source", () => {
  assert.throws(
    () =>
      renderChatTemplate(LLAMA31_STYLE, [{ role: "tool", content: "{}" }], {
        addGenerationPrompt: true,
        source: "models/x/tokenizer_config.json",
      }),
    (e: unknown) =>
      e instanceof SwallowError && e.message.startsWith("models/x/tokenizer_config.json:") && e.message.includes("unsupported role tool"),
  );
  assert.throws(
    () => renderChatTemplate("{% for m in messages %}{{ m.content }", [], { addGenerationPrompt: false, source: "custom.jinja" }),
    (e: unknown) => e instanceof SwallowError && e.message.startsWith("custom.jinja: chat template does not parse"),
  );
  assert.throws(
    () => renderChatTemplate("{{ messages[0].content.foo() }}", [{ role: "user", content: "x" }], { addGenerationPrompt: false }),
    (e: unknown) => e instanceof SwallowError && e.message.startsWith("the chat template: chat template failed to render"),
  );
});

test("strftime_now and strftime use English names like Python's C locale", () => {
  const now = new Date(2024, 6, 5, 14, 3, 9);
  const text = renderChatTemplate(`{{ strftime_now("%d %b %Y") }}|{{ strftime_now("%A %B %e %H:%M:%S %I%p %j %y %%") }}`, [], {
    addGenerationPrompt: false,
    now,
  });
  assert.equal(text, "05 Jul 2024|Friday July  5 14:03:09 02PM 187 24 %");
  assert.equal(strftime(new Date(2023, 11, 31, 0, 0, 0), "%a %d %b %I%p %j"), "Sun 31 Dec 12AM 365");
  const today = renderChatTemplate(`{{ strftime_now("%Y-%m-%d") }}`, [], { addGenerationPrompt: false });
  assert.match(today, /^\d{4}-\d{2}-\d{2}$/);
});

test("parseTokenizerConfig: list-form templates, AddedToken objects, add_bos_token, and bad files", () => {
  const listForm = parseTokenizerConfig(
    JSON.stringify({
      chat_template: [
        { name: "tool_use", template: "T" },
        { name: "default", template: "D" },
      ],
      bos_token: { __type: "AddedToken", content: "<s>", lstrip: false },
      eos_token: { content: "</s>" },
      add_bos_token: true,
      clean_up_tokenization_spaces: true,
    }),
    "a/tokenizer_config.json",
  );
  assert.deepEqual(listForm, {
    chatTemplate: "D",
    namedChatTemplates: { tool_use: "T", default: "D" },
    bosToken: "<s>",
    eosToken: "</s>",
    addBosToken: true,
    cleanUpTokenizationSpaces: true,
  });
  const none = parseTokenizerConfig("{}", "b.json");
  assert.deepEqual(none, { chatTemplate: null, namedChatTemplates: {}, bosToken: null, eosToken: null, cleanUpTokenizationSpaces: false });
  assert.equal(parseTokenizerConfig(JSON.stringify({ chat_template: [{ name: "rag", template: "R" }] }), "c.json").chatTemplate, null);
  assert.throws(() => parseTokenizerConfig("{oops", "d/tokenizer_config.json"), /^SwallowError: d\/tokenizer_config\.json: not valid JSON/);
  assert.throws(() => parseTokenizerConfig(JSON.stringify({ chat_template: 5 }), "e.json"), /e\.json: chat_template/);
  assert.throws(() => parseTokenizerConfig(JSON.stringify({ eos_token: 3 }), "f.json"), /f\.json: eos_token/);
});

test("Jinja globals chat templates rely on: range, namespace, constants, tojson", () => {
  const template =
    "{% set ns = namespace(n=0) %}{% for i in range(1, 7, 2) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}" +
    "|{{ range(3) | join(',') }}|{% if tools is none and True and not none %}ok{% endif %}|{{ messages[0] | tojson }}";
  const text = renderChatTemplate(template, [{ role: "user", content: "東京" }], { addGenerationPrompt: false });
  assert.equal(text, '9|0,1,2|ok|{"role": "user", "content": "東京"}');
});
