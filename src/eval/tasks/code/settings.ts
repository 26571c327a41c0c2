// Generation and scoring settings of Swallow's (J)HumanEval runs: bigcode-evaluation-harness @0261c52 with
// Swallow's patch, driven by scripts/evaluate_{ja,english}_humaneval-unstripped.sh (spec §4).

/** `GeneralHumanEval.__init__` stop_words (bigcode_eval/tasks/humaneval.py); the model's EOS also stops. */
export const STOP_WORDS: readonly string[] = Object.freeze(["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>"]);

/** `--n_samples 10`: completions per problem ("0-shot, 10 trials" on the site). */
export const N_SAMPLES = 10;

/** bigcode_eval/arguments.py defaults with `--do_sample True`: temperature 0.2, top_p 0.95, top_k 0 (off). */
export const TEMPERATURE = 0.2;
export const TOP_P = 0.95;

/**
 * `--max_length_generation 1024`: prompt + completion tokens together. GenerateRequest only has a new-token cap,
 * so completions may be longer than the original's by the prompt's length; the stop words end almost all first.
 */
export const MAX_LENGTH_TOKENS = 1024;

/** bigcode tokenizes prompts with the tokenizer's default, which adds BOS for Llama 3. */
export const ADD_BOS = true;

/** `code_eval.py` timeout, seconds; also the sandbox's default. */
export const TIMEOUT_SECONDS = 3.0;
