import { Environment, Interpreter, Template } from "@huggingface/jinja";
import { SwallowError } from "../errors.js";

/** The system prompt the Llama-3.1-Swallow model cards recommend. */
export const DEFAULT_SYSTEM_PROMPT = "あなたは誠実で優秀な日本人のアシスタントです。";

/** One chat turn as chat templates see it (`message['role']`, `message['content']`, plus e.g. `tool_calls`). */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the header that opens the assistant's turn. */
  addGenerationPrompt: boolean;
  /**
   * Leave the final message open (no end-of-turn after it), so generation continues it: transformers'
   * `continue_final_message` (and vLLM's). Needs addGenerationPrompt false.
   */
  continueFinalMessage?: boolean;
  bosToken?: string;
  eosToken?: string;
  /** JSON schemas of callable tools (OpenAI `tools`); templates see `none` when absent, as in transformers. */
  tools?: unknown[];
  /** More template variables (e.g. `date_string`, `builtin_tools`); they override the ones above. */
  extra?: Record<string, unknown>;
  /** Where the template came from (e.g. a tokenizer_config.json path), for error messages. */
  source?: string;
  /** The time `strftime_now` reports (default: now). */
  now?: Date;
}

/** What the project needs from tokenizer_config.json. */
export interface TokenizerConfig {
  /** The chat template; from the list form, the one named "default". Null when there is none. */
  chatTemplate: string | null;
  /** Every template of the list form by name (e.g. "default", "tool_use"); empty for the string form. */
  namedChatTemplates: Record<string, string>;
  bosToken: string | null;
  eosToken: string | null;
  /** `add_bos_token` when the file sets it. */
  addBosToken?: boolean;
  /** `clean_up_tokenization_spaces` (transformers 4.x's decode applied tokenizer/clean-up.ts when true). */
  cleanUpTokenizationSpaces: boolean;
}

/** Thrown by the template's `raise_exception(...)`; turned into a SwallowError by renderChatTemplate. */
class TemplateRaised extends Error {}

const compiled = new Map<string, Template>();
const MAX_COMPILED = 16;

/**
 * Renders a Hugging Face chat template as transformers' `apply_chat_template(tokenize=False)` does: Jinja
 * with trim_blocks and lstrip_blocks, variables `messages`, `add_generation_prompt`, `bos_token`,
 * `eos_token`, `tools` (none when absent), the `raise_exception(message)` and `strftime_now(format)` helpers,
 * then `extra`.
 * @throws SwallowError naming the template's source when it does not parse, fails, or calls raise_exception.
 * @example
 * renderChatTemplate(template, [{ role: "user", content: "こんにちは" }], { addGenerationPrompt: true, bosToken: "<|begin_of_text|>" });
 */
export function renderChatTemplate(template: string, messages: ChatMessage[], options: ChatTemplateOptions): string {
  if (options.continueFinalMessage && options.addGenerationPrompt) {
    throw new SwallowError("cannot set both continue_final_message and add_generation_prompt: set add_generation_prompt to false");
  }
  const source = options.source ?? "the chat template";
  let program = compiled.get(template);
  if (!program) {
    try {
      program = new Template(template);
    } catch (error) {
      throw new SwallowError(`${source}: chat template does not parse: ${messageOf(error)}`, { cause: error });
    }
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(template, program);
  }
  const now = options.now;
  const variables: Record<string, unknown> = {
    ...JINJA_CONSTANTS,
    range: pythonRange,
    raise_exception: (message: unknown): never => {
      throw new TemplateRaised(String(message));
    },
    strftime_now: (format: unknown): string => strftime(now ?? new Date(), String(format)),
    messages,
    add_generation_prompt: options.addGenerationPrompt,
    bos_token: options.bosToken,
    eos_token: options.eosToken,
    tools: options.tools ?? null,
    documents: null,
    ...options.extra,
  };
  try {
    // Template.render would declare the library's own raise_exception/strftime_now first (and refuse ours),
    // so the environment is built here: Jinja's constants, range, our helpers, then the variables.
    const env = new Environment();
    for (const [name, value] of Object.entries(variables)) env.set(name, value);
    const result = new Interpreter(env).run(program.parsed) as { value: unknown };
    const text = String(result.value);
    return options.continueFinalMessage ? openFinalMessage(text, messages, source) : text;
  } catch (error) {
    if (error instanceof TemplateRaised) {
      throw new SwallowError(`${source}: the chat template rejected these messages: ${error.message}`, { cause: error });
    }
    throw new SwallowError(`${source}: chat template failed to render: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The rendered chat cut right after the final message's content, as transformers' `continue_final_message`: the
 * last occurrence of the content without surrounding whitespace; its trailing whitespace is kept only where the
 * template kept the content as given.
 */
function openFinalMessage(text: string, messages: ChatMessage[], source: string): string {
  const final = messages.at(-1)?.content;
  if (typeof final !== "string" || final.trim() === "") {
    throw new SwallowError(`${source}: continue_final_message needs a final message with text content`);
  }
  const stripped = final.trim();
  const at = text.lastIndexOf(stripped);
  if (at < 0) {
    throw new SwallowError(
      `${source}: continue_final_message is set but the final message does not appear in the rendered chat; the template changes its content`,
    );
  }
  const kept = text.slice(at, at + final.trimStart().length) === final ? final.trimStart().length : stripped.length;
  return text.slice(0, at + kept);
}

/** Jinja's constants, in lower and title case as the library (and Jinja) accept them. */
const JINJA_CONSTANTS = { true: true, false: false, none: null, True: true, False: false, None: null };

/** Python's `range(stop)` / `range(start, stop[, step])`. */
function pythonRange(start: unknown, stop?: unknown, step: unknown = 1): number[] {
  let from = Number(start);
  let to = Number(stop);
  if (stop === undefined || stop === null) [from, to] = [0, from];
  const by = Number(step);
  if (![from, to, by].every(Number.isInteger)) throw new Error("range() arguments must be integers");
  if (by === 0) throw new Error("range() step must not be zero");
  const out: number[] = [];
  for (let i = from; by > 0 ? i < to : i > to; i += by) out.push(i);
  return out;
}

/**
 * Reads tokenizer_config.json. `chat_template` may be a string or a list of `{name, template}` (the one
 * named "default" is used, as transformers does); `bos_token`/`eos_token` may be strings or AddedToken
 * objects `{content, ...}`.
 * @throws SwallowError naming the file when it is not valid JSON or a field has the wrong type.
 */
export function parseTokenizerConfig(text: string, fileName: string): TokenizerConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SwallowError(`${fileName}: not valid JSON (${messageOf(error)})`, { cause: error });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SwallowError(`${fileName}: expected a JSON object`);
  }
  const config = json as Record<string, unknown>;
  const result: TokenizerConfig = {
    chatTemplate: null,
    namedChatTemplates: {},
    bosToken: specialToken(config.bos_token, "bos_token", fileName),
    eosToken: specialToken(config.eos_token, "eos_token", fileName),
    cleanUpTokenizationSpaces: config.clean_up_tokenization_spaces === true,
  };
  const template = config.chat_template;
  if (typeof template === "string") {
    result.chatTemplate = template;
  } else if (Array.isArray(template)) {
    for (const entry of template) {
      const { name, template: body } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== "string" || typeof body !== "string") {
        throw new SwallowError(`${fileName}: chat_template list entries must be {"name": string, "template": string}`);
      }
      result.namedChatTemplates[name] = body;
    }
    result.chatTemplate = result.namedChatTemplates.default ?? null;
  } else if (template !== undefined && template !== null) {
    throw new SwallowError(`${fileName}: chat_template must be a string or a list of {name, template}`);
  }
  if (typeof config.add_bos_token === "boolean") result.addBosToken = config.add_bos_token;
  return result;
}

function specialToken(value: unknown, key: string, fileName: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (typeof value === "object" && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  throw new SwallowError(`${fileName}: ${key} must be a string or an object with a "content" string`);
}

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/**
 * Python's `datetime.strftime` in the C locale (English names) for local time: %a %A %b %B %d %e %H %I
 * %j %m %M %p %S %y %Y %%. Other directives are left as written.
 */
export function strftime(date: Date, format: string): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  return format.replace(/%[aAbBdeHIjmMpSyY%]/g, (directive) => {
    switch (directive) {
      case "%a":
        return DAYS[date.getDay()].slice(0, 3);
      case "%A":
        return DAYS[date.getDay()];
      case "%b":
        return MONTHS[date.getMonth()].slice(0, 3);
      case "%B":
        return MONTHS[date.getMonth()];
      case "%d":
        return pad(date.getDate());
      case "%e":
        return String(date.getDate()).padStart(2, " ");
      case "%H":
        return pad(date.getHours());
      case "%I":
        return pad(date.getHours() % 12 === 0 ? 12 : date.getHours() % 12);
      case "%j": {
        const dayOfYear = Math.round(
          (Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86400000,
        );
        return pad(dayOfYear + 1, 3);
      }
      case "%m":
        return pad(date.getMonth() + 1);
      case "%M":
        return pad(date.getMinutes());
      case "%p":
        return date.getHours() < 12 ? "AM" : "PM";
      case "%S":
        return pad(date.getSeconds());
      case "%y":
        return pad(date.getFullYear() % 100);
      case "%Y":
        return String(date.getFullYear());
      default:
        return "%";
    }
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
