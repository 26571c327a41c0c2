// A fixed number of slots; each job holds one while it runs. The slot index is part of the job's identity (the
// sandbox uid per slot, see identity.ts), so slots are handed out lowest-free-first rather than just counted.

export class SlotPool {
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  /** @param size concurrent jobs (≥ 1). */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
    this.free = Array.from({ length: size }, (_, i) => i);
  }

  /** Runs `job` with a slot index once one is free; the slot is released when the job settles. */
  async run<T>(job: (slot: number) => Promise<T>): Promise<T> {
    const slot = await this.acquire();
    try {
      return await job(slot);
    } finally {
      this.release(slot);
    }
  }

  private acquire(): Promise<number> {
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else {
      this.free.push(slot);
      this.free.sort((a, b) => a - b);
    }
  }
}
