/**
 * numpy's legacy global generator (`np.random.seed(int)` + `np.random.choice(n, size)`), as far as rouge_score's
 * BootstrapAggregator uses it. Written from the published MT19937 algorithm (init_genrand seeding, which is what
 * `RandomState.seed(int)` calls) and numpy's `random_bounded_uint64_fill` (legacy masked rejection sampling on
 * 32-bit outputs). src/eval/random/python-random.ts seeds differently (init_by_array), hence this small twin.
 */
const N = 624;
const M = 397;

export class NumpyLegacyRandom {
  private readonly mt = new Uint32Array(N);
  private index = N;

  /** `np.random.seed(seed)` for an integer 0 ≤ seed < 2^32. */
  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      // 1812433253 * prev + i mod 2^32, split in 16-bit halves to stay exact in doubles.
      this.mt[i] = ((((prev >>> 16) * 1812433253) << 16) + (prev & 0xffff) * 1812433253 + i) >>> 0;
    }
  }

  /** The next tempered 32-bit output (numpy's `mt19937_next32`). */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % N] & 0x7fffffff);
      mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /**
   * `np.random.choice(np.arange(n), size=count)` = legacy `randint(0, n, count)`: each draw masks a 32-bit output to
   * the smallest all-ones mask covering n−1 and rejects values above n−1 (n ≤ 2^32).
   */
  choiceIndices(n: number, count: number): Uint32Array {
    const out = new Uint32Array(count);
    const max = n - 1;
    if (max === 0) return out;
    let mask = max;
    for (let shift = 1; shift <= 16; shift <<= 1) mask |= mask >>> shift;
    for (let i = 0; i < count; i++) {
      let value: number;
      do value = (this.nextUint32() & mask) >>> 0;
      while (value > max);
      out[i] = value;
    }
    return out;
  }
}
