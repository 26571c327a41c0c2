import type { ModelSpec } from "./spec.js";

/**
 * RoPE inverse frequencies (headDim/2 values), exactly as transformers computes them in f32
 * (`_compute_default_rope_parameters` / `_compute_llama3_parameters` in modeling_rope_utils.py):
 * every intermediate is rounded to f32 as the torch tensor ops do.
 */
export function ropeInverseFrequencies(spec: Pick<ModelSpec, "headDim" | "ropeTheta" | "ropeScaling">): Float32Array {
  const f = Math.fround;
  const half = spec.headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = f(1 / f(spec.ropeTheta ** f((2 * i) / spec.headDim)));
  const scaling = spec.ropeScaling;
  if (scaling.type === "default") return invFreq;

  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldContext } = scaling;
  const lowFreqWavelen = oldContext / lowFreqFactor;
  const highFreqWavelen = oldContext / highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = f((2 * Math.PI) / invFreq[i]);
    // Long wavelengths (low frequencies) are slowed by `factor`; short ones are kept.
    const llama = wavelen > lowFreqWavelen ? f(invFreq[i] / factor) : invFreq[i];
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (isMedium) {
      // The band in between blends the two linearly in oldContext / wavelen.
      const smooth = f(f(f(oldContext / wavelen) - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
      invFreq[i] = f(f(f(f(1 - smooth) * llama) / factor) + f(smooth * llama));
    } else {
      invFreq[i] = llama;
    }
  }
  return invFreq;
}
