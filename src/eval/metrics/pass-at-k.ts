/**
 * The unbiased pass@k estimator of the Codex paper, with the arithmetic of bigcode-evaluation-harness
 * (`custom_metrics/code_eval.py` `estimate_pass_at_k`): `1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))`,
 * returning 1.0 when `n - c < k`. numpy's multiply-reduce runs left to right, so the product is taken in increasing i.
 */
import { SwallowError } from "../../errors.js";

/**
 * pass@k for one problem from `n` samples of which `c` passed.
 * @example passAtK(10, 3, 1) // 0.30000000000000004, as numpy gives
 */
export function passAtK(n: number, c: number, k: number): number {
  if (![n, c, k].every(Number.isInteger) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new SwallowError(`pass@k needs integers 1 ≤ k ≤ n and 0 ≤ c ≤ n; got n=${n}, c=${c}, k=${k}`);
  }
  if (n - c < k) return 1.0;
  let product = 1.0;
  for (let i = n - c + 1; i <= n; i++) product *= 1.0 - k / i;
  return 1.0 - product;
}
