// Answer generation as gen_model_answer.py `get_model_answers` does it: per answer run i (`torch.manual_seed(i)`),
// turn 1 is asked, its cleaned answer is put into the conversation, then turn 2 is asked.

import type { ChatRequest, EvalBackend, GenerateRequest } from "../../types.js";
import { type ConversationTurn, LLAMA3_STOP_STRINGS, buildChatMessages, buildFastchatLlama3Prompt } from "./conversation.js";
import type { MtbenchQuestion } from "./dataset.js";
import { SWALLOW_SPECIAL_TOKENS, cleanAnswer } from "./postprocess.js";
import { MAX_NEW_TOKENS, temperatureFor } from "./settings.js";

/**
 * "fastchat": FastChat's llama-3 prompt string through `generateUntil` with BOS added (the string already starts with
 * `<|begin_of_text|>`, so the model sees two, as in the card's run). "chat-template": the same conversation as chat
 * messages through the model's own chat template (`chat`), for models that are not Llama-3 style.
 */
export type AnswerFormat = "fastchat" | "chat-template";

export interface AnswerOptions {
  format: AnswerFormat;
  /** Strings removed from every answer (the tokenizer's special_tokens_map values); default Swallow's. */
  specialTokens?: readonly string[];
  /** FastChat's vLLM path samples with top_p=1 (absent here); its HF path takes top_p from generation_config.json. */
  topP?: number;
}

/** The request for one turn; `seed` = the run index, so the runs stay distinct requests as FastChat's were. */
export function answerRequest(
  question: MtbenchQuestion,
  conversation: readonly ConversationTurn[],
  run: number,
  options: AnswerOptions,
): GenerateRequest | ChatRequest {
  const sampling = { maxTokens: MAX_NEW_TOKENS, temperature: temperatureFor(question.category), seed: run };
  const topP = options.topP === undefined ? {} : { topP: options.topP };
  if (options.format === "chat-template") return { kind: "chat", messages: buildChatMessages(conversation), ...sampling, ...topP };
  return {
    kind: "generate",
    context: buildFastchatLlama3Prompt(conversation),
    until: [...LLAMA3_STOP_STRINGS],
    addBos: true,
    ...sampling,
    ...topP,
  };
}

/** One answer run: the cleaned answer of every turn, each generated after the previous answer joined the conversation. */
export async function generateAnswerRun(
  model: EvalBackend,
  question: MtbenchQuestion,
  run: number,
  options: AnswerOptions,
): Promise<string[]> {
  const conversation: ConversationTurn[] = [];
  const answers: string[] = [];
  for (const user of question.turns) {
    conversation.push({ user, assistant: null });
    const request = answerRequest(question, conversation, run, options);
    const raw = request.kind === "chat" ? await model.chat(request) : await model.generateUntil(request);
    const answer = cleanAnswer(raw, options.specialTokens ?? SWALLOW_SPECIAL_TOKENS);
    conversation[conversation.length - 1].assistant = answer;
    answers.push(answer);
  }
  return answers;
}
