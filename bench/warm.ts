/**
 * Timed passes on a card that may be idle: a GPU that has waited on the host (checks, readbacks, compiles between
 * lab cases) can run its first passes below its working clock, which is the likeliest reason single timed passes
 * drifted by up to 2× in the kernel labs (bench/NOTES.md, sessions 9 and 10). `afterWarmup` repeats a timed pass
 * until `minMs` of GPU time has run, and at least `minPasses` passes, and returns the last pass's time.
 */
export async function afterWarmup(pass: () => Promise<number>, minMs = 200, minPasses = 2): Promise<number> {
  let busyNs = 0;
  for (let passes = 1; ; passes++) {
    const ns = await pass();
    // Without a time (no timestamps) nothing counts towards the warm-up: stop after the minimum.
    busyNs += Number.isFinite(ns) ? ns : 0;
    if (passes >= minPasses && (busyNs >= minMs * 1e6 || !Number.isFinite(ns))) return ns;
  }
}

let processWarmed = false;

/**
 * The process's first timed work, repeated for `seconds` of wall time before anything is timed; later calls return
 * at once. Per-case warm-up (afterWarmup) was not enough: in session 20 (H200) one attention case read 0.47, 0.33 and
 * 0.20 ms per call timed three times in a row in one process, each after ≥ 200 ms of passes that agreed within 3%
 * (chained or not, same repetitions), and 0.16 / 0.16 / 0.15 after 5 s of this: the card gets faster over seconds.
 */
export async function warmProcessOnce(pass: () => Promise<unknown>, seconds: number): Promise<void> {
  if (processWarmed) return;
  processWarmed = true;
  const until = performance.now() + seconds * 1e3;
  while (performance.now() < until) await pass();
}
