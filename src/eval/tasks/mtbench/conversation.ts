// FastChat's "llama-3" conversation template (conversation.py in Swallow's fork @ 3762f0d), the one Llama3Adapter
// picks for a model path containing "llama-3". Separator style CALM2: `system + Σ (role + message + sep)`, and an
// open assistant slot is the role alone.

import type { ChatTurn } from "../../types.js";

/** The template's `system_message` (Swallow changed it to Japanese). */
export const LLAMA3_SYSTEM_MESSAGE = "あなたは誠実で優秀な日本人のアシスタントです。";

/** `system_template` with the system message filled in; it starts with BOS, and the tokenizer adds another (double BOS). */
const SYSTEM_BLOCK = `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n${LLAMA3_SYSTEM_MESSAGE}<|eot_id|>`;
const USER_ROLE = "<|start_header_id|>user<|end_header_id|>\n\n";
const ASSISTANT_ROLE = "<|start_header_id|>assistant<|end_header_id|>\n\n";
const SEP = "<|eot_id|>";

/** The template's `stop_token_ids=[128009]` as text: generation ends at the first `<|eot_id|>`. */
export const LLAMA3_STOP_STRINGS: readonly string[] = ["<|eot_id|>"];

/** One exchange so far; `assistant: null` is the open slot the model is asked to fill. */
export interface ConversationTurn {
  user: string;
  assistant: string | null;
}

/**
 * `Conversation.get_prompt()` for "llama-3". A message that is empty or null contributes its role only — so an
 * empty turn-1 answer leaves no `<|eot_id|>` after its assistant header in the turn-2 prompt, as in FastChat.
 */
export function buildFastchatLlama3Prompt(turns: readonly ConversationTurn[]): string {
  let prompt = SYSTEM_BLOCK;
  for (const turn of turns) {
    prompt += turn.user ? USER_ROLE + turn.user + SEP : USER_ROLE;
    prompt += turn.assistant ? ASSISTANT_ROLE + turn.assistant + SEP : ASSISTANT_ROLE;
  }
  return prompt;
}

/**
 * `Conversation.to_openai_api_messages()` of the same conversation, for models run through their own chat template:
 * the template's system message, then user/assistant turns; a null (open) assistant slot is left out, "" is kept.
 */
export function buildChatMessages(turns: readonly ConversationTurn[]): ChatTurn[] {
  const messages: ChatTurn[] = [{ role: "system", content: LLAMA3_SYSTEM_MESSAGE }];
  for (const turn of turns) {
    messages.push({ role: "user", content: turn.user });
    if (turn.assistant !== null) messages.push({ role: "assistant", content: turn.assistant });
  }
  return messages;
}
