/**
 * transformers' `clean_up_tokenization`: what `tokenizer.decode` applied to Llama-3 output in transformers 4.x when
 * tokenizer_config.json sets `clean_up_tokenization_spaces: true` (the harnesses behind the model card decoded that
 * way; transformers 5 no longer applies it to BPE tokenizers). Removes the space before . ? ! , and a few English
 * contractions; nothing else changes (Japanese text is untouched).
 */
export function cleanUpTokenizationSpaces(text: string): string {
  return text
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
