/** xorshift32 stream of floats in [-1, 1), never exactly 0 (the kernel labs' inputs: fast, reproducible, no zeros). */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 4294967296) * 2 - 1 || 1e-3;
  };
}
