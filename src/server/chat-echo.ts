import type { ChatRequestMessage } from "./request-schema.js";

/**
 * vLLM's chat `echo`: when the last message has the role of the answer (assistant), its content is sent before the
 * generated text, so a client continuing that message gets it whole. Text parts are joined with newlines, as vLLM.
 * @returns the text to prefix; "" when echo is off or the last message is not the assistant's.
 */
export function chatEchoPrefix(echo: boolean | null | undefined, messages: readonly ChatRequestMessage[]): string {
  const last = messages.at(-1);
  if (echo !== true || last?.role !== "assistant" || last.content == null) return "";
  if (typeof last.content === "string") return last.content;
  return last.content
    .filter((part) => part.type === "text")
    .map((part) => part.text ?? "")
    .join("\n");
}
