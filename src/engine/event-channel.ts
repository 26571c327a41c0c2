/**
 * A single-consumer queue between the engine's step loop (producer) and one request's async iterator:
 * `push` never blocks (events are buffered), `next` waits for the next event, `undefined` after `end`,
 * and rethrows the error given to `fail`.
 */
export class EventChannel<T> {
  private readonly buffered: T[] = [];
  private waiter: { resolve: (value: T | undefined) => void; reject: (error: unknown) => void } | null = null;
  private ended = false;
  private error: { value: unknown } | null = null;

  push(value: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve(value);
    } else {
      this.buffered.push(value);
    }
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: unknown): void {
    this.error = { value: error };
    this.ended = true;
    this.wake();
  }

  next(): Promise<T | undefined> {
    if (this.buffered.length > 0) return Promise.resolve(this.buffered.shift());
    if (this.error) return Promise.reject(this.error.value);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private wake(): void {
    if (!this.waiter) return;
    const { resolve, reject } = this.waiter;
    this.waiter = null;
    if (this.error) reject(this.error.value);
    else resolve(undefined);
  }
}
