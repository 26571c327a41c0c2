import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks an `Authorization` header against the API key in constant time: both sides are hashed to equal-length
 * SHA-256 digests first, so neither the key's length nor a matching prefix shows in the timing.
 */
export function isAuthorized(header: string | undefined, apiKey: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? "");
  const given = createHash("sha256")
    .update(match ? match[1] : "")
    .digest();
  const expected = createHash("sha256").update(apiKey).digest();
  return timingSafeEqual(given, expected) && match !== null;
}
