/**
 * When to ask for a submitted step's results. While any map or work-done request is pending, Dawn's Node binding
 * polls the device from a setImmediate loop that makes a new JS function on every turn, and those functions live
 * until a full garbage collection: asked for at submit, a step's read kept the loop spinning for the whole step,
 * and the H100 serving benchmark collected ~1.3 GB of them per 30 s, with a 100–160 ms pause every ~2–3 s that
 * left the GPU idle (bench/NOTES.md, session 13). So a read waits until most of its step's predicted time has
 * passed and only then maps: the loop spins for the rest.
 *
 * The prediction is per kind of step (`key`: what the step dispatches, e.g. its dispatch and workgroup counts): the
 * shortest of its recent durations, a duration being the time from the step's start (its submit, or the previous
 * step's completion if later) to its completion as the host saw it. A read that maps late makes its step look
 * longer, but never the shortest one for long: the minimum falls back to the true duration within a few steps. A
 * kind with fewer than `minSamples` durations in the last `maxAgeMs` maps at once: a rare step (one prompt's
 * prefill) is never held back by durations from another time (a warm-up's first passes over cold buffers). So does
 * a step submitted with no other in flight (an idle engine's first step, whose latency is a time to first token):
 * the garbage matters under load, when the engine keeps two steps in flight.
 */
export class ReadPacer {
  /** Per kind: its recent durations (ms) and when each ended (host time, ms). */
  private readonly recent = new Map<string, { duration: number; at: number }[]>();
  /** Predicted durations (ms) of the steps submitted and not completed, in submission order. */
  private readonly inFlight: number[] = [];
  /** Host time (ms) the oldest step in flight started (the previous one's completion, or its own submit). */
  private runningSince = 0;
  /** Host time (ms) the last step completed. */
  private lastDone = 0;

  constructor(
    /** Share of the predicted duration to wait before mapping. */
    private readonly waitShare = 0.75,
    /** Durations kept per kind. */
    private readonly window = 8,
    /** Durations that count: at least this many, ended within maxAgeMs. */
    private readonly minSamples = 3,
    private readonly maxAgeMs = 2000,
  ) {}

  /** Whether no step is in flight (submitted and not yet completed). */
  get idle(): boolean {
    return this.inFlight.length === 0;
  }

  /**
   * At submit (host time `now`, ms): when to map this step's read (`mapAt`, ≤ now: at once) and the step's predicted
   * duration (ms; 0 when unknown).
   */
  submitted(key: string, now: number): { mapAt: number; predictedMs: number } {
    const alone = this.inFlight.length === 0;
    if (alone) this.runningSince = now;
    // Starts when every step before it is predicted to have completed.
    const start = Math.max(
      now,
      this.inFlight.reduce((end, duration) => end + duration, this.runningSince),
    );
    const fresh = (this.recent.get(key) ?? []).filter((sample) => now - sample.at <= this.maxAgeMs);
    const predicted = fresh.length >= this.minSamples ? Math.min(...fresh.map((sample) => sample.duration)) : 0;
    this.inFlight.push(predicted);
    return { mapAt: alone ? now : start + this.waitShare * predicted, predictedMs: predicted };
  }

  /** When the step submitted at `submittedAt` completed (host times, ms; steps complete in submission order). */
  completed(key: string, submittedAt: number, doneAt: number): void {
    const duration = doneAt - Math.max(submittedAt, this.lastDone);
    this.lastDone = doneAt;
    this.inFlight.shift();
    this.runningSince = doneAt;
    let samples = this.recent.get(key);
    if (!samples) this.recent.set(key, (samples = []));
    samples.push({ duration, at: doneAt });
    if (samples.length > this.window) samples.shift();
  }
}
