/**
 * Any OpenAI-compatible endpoint (ours, vLLM, …) as an evaluation backend. Prompts are sent as token-id arrays
 * made with the evaluated model's own tokenizer, so context/continuation splits are the originals' (lm-eval's
 * `_encode_pair`), not whatever the server's text tokenisation would give.
 */
import { cleanUpTokenizationSpaces } from "../../tokenizer/clean-up.js";
import { SwallowError } from "../../errors.js";
import type { ChatRequest, EvalBackend, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../types.js";
import { HttpClient, HttpStatusError, type HttpClientOptions } from "./http-client.js";
import { cutAtStops, encodeGenerationPrompt, encodePair, fitPairToLength, type PairTokenizer } from "./tokenize-pair.js";

export interface OpenAIBackendOptions extends HttpClientOptions {
  /** The served model's name; absent = the first model `GET /v1/models` lists. */
  model?: string;
  /** The evaluated model's tokenizer (`--tokenizer DIR|REPO`). */
  tokenizer: PairTokenizer;
  /** Report/store id; default the model name. */
  id?: string;
  /** Apply transformers 4.x's decode clean-up to generated text (the tokenizer config's clean_up_tokenization_spaces). */
  cleanUpTokenizationSpaces?: boolean;
  /**
   * The served model's length, to which log-likelihood prompts are cut from the left as lm-eval cuts them:
   * a number, or "server" for the `max_model_len` that `GET /v1/models` gives for the model (vLLM and
   * `swallow serve` do; none given = no cut). Absent: prompts are sent whole.
   */
  maxModelLen?: number | "server";
}

/** The legacy completions `logprobs` object (OpenAI and vLLM). */
interface CompletionLogprobs {
  tokens?: string[];
  token_logprobs?: (number | null)[];
  top_logprobs?: (Record<string, number> | null)[];
}

export class OpenAIBackend implements EvalBackend {
  private readonly client: HttpClient;
  private modelName: string | undefined;
  /** The served model's length once known (null: the server does not say); undefined until looked up. */
  private modelLength: number | null | undefined;
  /** Set when the endpoint refused `max_tokens: 0`; then 1 token is generated and its log-prob ignored. */
  private scoringMaxTokens = 0;

  constructor(private readonly options: OpenAIBackendOptions) {
    this.client = new HttpClient(options);
    this.modelName = options.model;
  }

  get id(): string {
    return this.options.id ?? this.modelName ?? this.client.baseUrl;
  }

  /**
   * Resolves the model name now (the id names it in reports and store keys, so call this before a run) and,
   * with `maxModelLen: "server"`, the model's length, both from one `GET /v1/models`.
   */
  async resolveModel(): Promise<string> {
    const wantsLength = this.options.maxModelLen === "server" && this.modelLength === undefined;
    if (this.modelName !== undefined && !wantsLength) return this.modelName;
    type ModelList = { data?: { id?: string; max_model_len?: unknown }[] };
    let list: ModelList;
    try {
      list = (await this.client.get("/models")) as ModelList;
    } catch (error) {
      // Only the length was wanted: a server without GET /v1/models just gives no length (prompts go whole).
      if (this.modelName === undefined || !(error instanceof HttpStatusError)) throw error;
      this.modelLength = null;
      return this.modelName;
    }
    const entries = list.data ?? [];
    const name = this.modelName ?? entries[0]?.id;
    if (typeof name !== "string") throw new SwallowError(`${this.client.baseUrl}/models lists no model; pass the model name explicitly`);
    this.modelName = name;
    if (wantsLength) {
      const length = entries.find((entry) => entry.id === name)?.max_model_len;
      this.modelLength = typeof length === "number" && Number.isInteger(length) && length > 1 ? length : null;
    }
    return name;
  }

  /** The served model's length as resolveModel found it (null: not given or not asked for). */
  get servedModelLength(): number | null {
    return typeof this.options.maxModelLen === "number" ? this.options.maxModelLen : (this.modelLength ?? null);
  }

  /** The length log-likelihood prompts must fit, or null for no cut. */
  private async maxLength(): Promise<number | null> {
    if (this.options.maxModelLen === "server" && this.modelLength === undefined) await this.resolveModel();
    return this.servedModelLength;
  }

  async loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    const pair = encodePair(this.options.tokenizer, request.context, request.continuation, request.addBos);
    const maxLen = await this.maxLength();
    const { contextIds, continuationIds } = maxLen === null ? pair : fitPairToLength(pair, maxLen);
    const prompt = [...contextIds, ...continuationIds];
    const answer = await this.scorePrompt(prompt);
    const logprobs = (answer as { choices?: { logprobs?: CompletionLogprobs }[] }).choices?.[0]?.logprobs;
    const values = logprobs?.token_logprobs;
    if (!values || values.length < prompt.length) {
      throw new SwallowError(
        `${this.client.baseUrl}/completions returned ${values?.length ?? 0} log-probs for a ${prompt.length}-token prompt with echo; the server must support echo + logprobs on token prompts (vLLM does)`,
        { exitCode: 1 },
      );
    }
    let logprob = 0;
    let isGreedy = true;
    for (let i = contextIds.length; i < prompt.length; i++) {
      const value = values[i];
      if (typeof value !== "number") throw new SwallowError(`the server gave no log-prob for prompt position ${i}`, { exitCode: 1 });
      logprob += value;
      // lm-eval's is_greedy over completions: the most likely alternative must be the token itself.
      const top = logprobs.top_logprobs?.[i];
      const token = logprobs.tokens?.[i];
      if (top && token !== undefined) {
        const best = Object.entries(top).reduce((a, b) => (b[1] > a[1] ? b : a), ["", -Infinity] as [string, number]);
        if (best[0] !== token && best[1] > value) isGreedy = false;
      }
    }
    return { logprob, isGreedy };
  }

  async generateUntil(request: GenerateRequest): Promise<string> {
    const prompt = encodeGenerationPrompt(this.options.tokenizer, request.context, request.addBos, request.maxContextTokens);
    const answer = await this.client.post("/completions", {
      model: await this.resolveModel(),
      prompt,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      ...(request.topP !== undefined ? { top_p: request.topP } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.until.length > 0 ? { stop: request.until } : {}),
    });
    const text = (answer as { choices?: { text?: string }[] }).choices?.[0]?.text;
    if (typeof text !== "string")
      throw new SwallowError(`${this.client.baseUrl}/completions answered without choices[0].text`, { exitCode: 1 });
    const cut = cutAtStops(text, request.until);
    return this.options.cleanUpTokenizationSpaces ? cleanUpTokenizationSpaces(cut) : cut;
  }

  async chat(request: ChatRequest): Promise<string> {
    const answer = await this.client.post("/chat/completions", {
      model: await this.resolveModel(),
      messages: request.messages,
      max_tokens: request.maxTokens,
      temperature: request.temperature,
      ...(request.topP !== undefined ? { top_p: request.topP } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
    });
    const content = (answer as { choices?: { message?: { content?: string | null } }[] }).choices?.[0]?.message?.content;
    if (typeof content !== "string") {
      throw new SwallowError(`${this.client.baseUrl}/chat/completions answered without choices[0].message.content`, { exitCode: 1 });
    }
    return content;
  }

  /** echo + logprobs with max_tokens 0; an endpoint that rejects 0 (HTTP 400) is asked again with 1 from then on. */
  private async scorePrompt(prompt: number[]): Promise<unknown> {
    const body = { model: await this.resolveModel(), prompt, echo: true, logprobs: 1, temperature: 0 };
    if (this.scoringMaxTokens === 0) {
      try {
        return await this.client.post("/completions", { ...body, max_tokens: 0 });
      } catch (error) {
        if (!(error instanceof HttpStatusError) || error.status !== 400) throw error;
        this.scoringMaxTokens = 1;
      }
    }
    return this.client.post("/completions", { ...body, max_tokens: this.scoringMaxTokens });
  }
}
