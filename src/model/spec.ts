/** RoPE frequency rule; `llama3` is Llama 3.1's piecewise low/high frequency scaling. */
export type RopeScaling =
  | { type: "default" }
  | {
      type: "llama3";
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

/** Everything the forward pass needs from config.json, normalised over transformers 4.x and 5.x layouts. */
export interface ModelSpec {
  architecture: "LlamaForCausalLM";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** Every id that ends generation (config.json's `eos_token_id`, int or list). */
  eosTokenIds: number[];
  /** config.json's `torch_dtype`/`dtype`, informational only: the tensors' own dtypes are what count. */
  declaredDtype: string | null;
}

/** generation_config.json: the defaults commands use when no sampling flag is given (as vLLM does). */
export interface GenerationDefaults {
  eosTokenIds: number[];
  bosTokenId: number | null;
  doSample: boolean | null;
  temperature: number | null;
  topP: number | null;
  topK: number | null;
  minP: number | null;
  repetitionPenalty: number | null;
  maxNewTokens: number | null;
}
