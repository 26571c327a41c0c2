// Answer clean-up as gen_model_answer.py does it after decoding: remove every string of the tokenizer's
// `special_tokens_map` (in its order, plain replace-all), then Python's `str.strip()`.

/** Values of Swallow's special_tokens_map.json (bos, eos, pad), in file order. */
export const SWALLOW_SPECIAL_TOKENS: readonly string[] = ["<|begin_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>"];

/**
 * The characters Python's `str.isspace()` accepts (what `str.strip()` removes). Differs from JS `trim()`:
 * Python also strips U+001C..U+001F and U+0085, and keeps U+FEFF.
 */
const PY_WHITESPACE = new Set(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]
    .concat(Array.from({ length: 11 }, (_, i) => 0x2000 + i))
    .map((c) => String.fromCharCode(c)),
);

/** Python `str.strip()` with no argument. */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PY_WHITESPACE.has(text[start])) start++;
  while (end > start && PY_WHITESPACE.has(text[end - 1])) end--;
  return text.slice(start, end);
}

/**
 * FastChat's post-processing of one decoded answer (the text before the first stop token): special-token strings
 * removed, then stripped. Cutting at the stop token is the backend's job (`until` / EOS ids).
 */
export function cleanAnswer(decoded: string, specialTokens: readonly string[] = SWALLOW_SPECIAL_TOKENS): string {
  let text = decoded;
  for (const token of specialTokens) if (token) text = text.split(token).join("");
  return pythonStrip(text);
}
