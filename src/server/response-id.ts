import { randomUUID } from "node:crypto";

/**
 * The response `id`: vLLM's `{prefix}-{request_id}` when the request names one (so a client can match its logs to
 * the server's), else `{prefix}-` and a random hex id.
 */
export function responseId(prefix: "chatcmpl" | "cmpl", requestId: string | null | undefined): string {
  return `${prefix}-${requestId ?? randomUUID().replaceAll("-", "")}`;
}
