/**
 * vLLM's `bad_words`: words the output may not contain. Each word becomes token sequences once per request
 * ({@link badWordsTokenIds}); at every step {@link banBadWords} masks the token that would complete one.
 */

/**
 * Tokenizes bad words as vLLM's `SamplingParams.update_from_tokenizer`: each word (leading whitespace dropped) as
 * it is and with one leading space, without special tokens, so the word is banned at the start of the text and
 * after a space alike. The spaced form is kept only when it starts with another token than the plain form and has
 * as many tokens (otherwise the space merged into something that is not the same word in a new position).
 * @param encode text → token ids without BOS/EOS
 */
export function badWordsTokenIds(words: readonly string[], encode: (text: string) => number[]): number[][] {
  const sequences: number[][] = [];
  for (const word of words) {
    const plain = encode(word.trimStart());
    const spaced = encode(" " + word.trimStart());
    sequences.push(plain);
    if (spaced[0] !== plain[0] && spaced.length === plain.length) sequences.push(spaced);
  }
  return sequences;
}

/**
 * Sets to −∞ the logit of every token that would complete a bad word (vLLM's `apply_bad_words`): a one-token word
 * always; a longer word's last token when the tokens generated so far end with the word's other tokens (the prompt
 * does not count, as in vLLM).
 * @param sequences token sequences from {@link badWordsTokenIds} (each non-empty, ids inside the vocabulary)
 * @param outputIds the tokens this request generated so far
 */
export function banBadWords(logits: Float32Array, sequences: readonly (readonly number[])[], outputIds: ArrayLike<number>): void {
  for (const word of sequences) {
    const last = word[word.length - 1];
    if (!(last >= 0 && last < logits.length))
      throw new RangeError(`bad word token id ${last} is outside the vocabulary [0, ${logits.length})`);
    const prefix = word.length - 1;
    if (prefix > outputIds.length) continue;
    let matches = true;
    for (let j = 0; j < prefix && matches; j++) matches = outputIds[outputIds.length - prefix + j] === word[j];
    if (matches) logits[last] = -Infinity;
  }
}
