import { randomUUID } from "node:crypto";
import type { ChatMessage } from "../tokenizer/chat-template.js";
import { HttpError } from "./http-error.js";
import type { ChatRequestMessage, ToolChoice, ToolDefinition } from "./request-schema.js";

/** One tool call in OpenAI's response shape (`arguments` is a JSON string). */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A template that never mentions `tools` ignores them silently; vLLM users expect a clear 400 instead. */
export function templateSupportsTools(templateSource: string | null): boolean {
  return templateSource !== null && /\btools\b/.test(templateSource);
}

/** vLLM's tool call ids: `chatcmpl-tool-` and 32 hex digits. */
export function toolCallId(): string {
  return `chatcmpl-tool-${randomUUID().replaceAll("-", "")}`;
}

/**
 * Parses Llama 3.1's JSON tool-call turn: one or more `{"name": …, "parameters": {…}}` objects (`arguments` also
 * accepted), separated by `;`, optionally after `<|python_tag|>`. Returns null when the text is not such a call,
 * so it is an ordinary answer.
 */
export function parseLlamaToolCalls(text: string, tools: readonly ToolDefinition[]): ToolCall[] | null {
  let rest = text
    .trim()
    .replace(/^<\|python_tag\|>/, "")
    .trim();
  if (!rest.startsWith("{")) return null;
  const calls: ToolCall[] = [];
  while (rest.length > 0) {
    const end = jsonObjectEnd(rest);
    if (end < 0) return null;
    let value: unknown;
    try {
      value = JSON.parse(rest.slice(0, end));
    } catch {
      return null;
    }
    const call = value as { name?: unknown; parameters?: unknown; arguments?: unknown };
    const args = call.parameters ?? call.arguments ?? {};
    if (typeof call.name !== "string" || typeof args !== "object" || args === null) return null;
    if (!tools.some((t) => t.function.name === call.name)) return null;
    calls.push({ id: toolCallId(), type: "function", function: { name: call.name, arguments: JSON.stringify(args) } });
    rest = rest.slice(end).replace(/^[\s;]+/, "");
  }
  return calls;
}

/** Index just past the JSON object that starts `text` (strings and escapes respected), or -1 when it never closes. */
function jsonObjectEnd(text: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * The JSON schema an answer must match when a tool call is forced (`tool_choice` "required" or a named function):
 * Llama 3.1's `{"name", "parameters"}` object for one of the allowed tools. Null when nothing is forced.
 */
export function forcedToolSchema(tools: readonly ToolDefinition[], choice: ToolChoice | null | undefined): object | null {
  if (choice !== "required" && (typeof choice !== "object" || choice === null)) return null;
  let allowed = tools;
  if (typeof choice === "object") {
    allowed = tools.filter((t) => t.function.name === choice.function.name);
    if (allowed.length === 0) {
      throw new HttpError(400, `tool_choice names "${choice.function.name}", which is not in tools`, { param: "tool_choice" });
    }
  }
  const branches = allowed.map((t) => ({
    type: "object",
    properties: { name: { const: t.function.name }, parameters: t.function.parameters ?? { type: "object" } },
    required: ["name", "parameters"],
  }));
  return branches.length === 1 ? branches[0] : { anyOf: branches };
}

/**
 * Converts OpenAI chat messages to what chat templates read: content parts joined into one string, and each
 * assistant tool call's `arguments` parsed back to an object (Llama 3.1's template writes them with `tojson`).
 */
export function templateMessages(messages: readonly ChatRequestMessage[]): ChatMessage[] {
  return messages.map((m, i) => {
    const content = typeof m.content === "string" ? m.content : (m.content ?? []).map((part) => contentText(part, i)).join("");
    const out: ChatMessage = { role: m.role, content };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((call) => ({
        ...call,
        function: { name: call.function.name, arguments: parseArguments(call.function.arguments, i) },
      }));
    }
    return out;
  });
}

function contentText(part: { type: string; text?: string }, index: number): string {
  if (part.type !== "text" || typeof part.text !== "string") {
    throw new HttpError(400, `messages[${index}]: only text content parts are supported, got type "${part.type}"`, {
      param: `messages[${index}].content`,
    });
  }
  return part.text;
}

function parseArguments(value: string | Record<string, unknown>, index: number): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new HttpError(
      400,
      `messages[${index}].tool_calls: function.arguments must be a JSON string, got ${JSON.stringify(value.slice(0, 40))}`,
      {
        param: `messages[${index}].tool_calls`,
      },
    );
  }
}
