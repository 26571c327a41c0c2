/**
 * Where a process's garbage comes from: V8's sampling heap profiler, keeping the objects that collections freed.
 *
 *   node --import ./dist/bench/heap-sample-preload.js dist/src/cli/main.js bench …   (HEAP_START_MS, HEAP_DURATION_MS, OUT)
 *   node dist/bench/heap-sample.js report $OUT/heap.json [--top 25]
 *
 * As a preload it starts sampling HEAP_START_MS after start (default 45,000: past a serving bench's load and warm-up)
 * for HEAP_DURATION_MS (default 30,000) and writes the profile to $OUT/heap.json (default /tmp). Every sample is kept,
 * freed or not (includeObjectsCollectedByMajorGC / MinorGC), so the profile shows what was allocated, which is what
 * drives collections. `report` prints the bytes allocated per function (self) and per nearest frame of this
 * project's code above them, largest first. Session 13 found the Dawn binding's polling this way (allocations
 * under processImmediate).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { pathToFileURL } from "node:url";

/** The parts of V8's SamplingHeapProfile the report reads. */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface HeapSite {
  site: string;
  bytes: number;
}

/** "name url:line" of a frame (line 1-based; "(anonymous)" for unnamed functions). */
function siteOf(frame: HeapProfileNode["callFrame"]): string {
  const file = frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, "$1/");
  return `${frame.functionName || "(anonymous)"} ${file || "(native)"}:${frame.lineNumber + 1}`;
}

/**
 * Bytes allocated per function (`self`) and per the nearest frame above the allocation whose file is under `ours`
 * (`caller`: which of this project's functions allocated, itself or through a library or builtin; "(outside)"
 * when no frame of ours is on the stack), largest first.
 */
export function summarizeHeapProfile(head: HeapProfileNode, ours = "/dist/"): { self: HeapSite[]; caller: HeapSite[] } {
  const self = new Map<string, number>();
  const caller = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, bytes: number) => map.set(key, (map.get(key) ?? 0) + bytes);
  const walk = (node: HeapProfileNode, nearest: string | null) => {
    const here = node.callFrame.url.includes(ours) ? siteOf(node.callFrame) : nearest;
    if (node.selfSize > 0) {
      add(self, siteOf(node.callFrame), node.selfSize);
      add(caller, here ?? "(outside)", node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, null);
  const sorted = (map: Map<string, number>) => [...map].map(([site, bytes]) => ({ site, bytes })).sort((a, b) => b.bytes - a.bytes);
  return { self: sorted(self), caller: sorted(caller) };
}

/** The preload's work (bench/heap-sample-preload.ts). */
export function startSampling(): void {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params: object = {}) =>
    new Promise<T>((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
  const startAfter = Number(process.env.HEAP_START_MS ?? 45_000);
  const duration = Number(process.env.HEAP_DURATION_MS ?? 30_000);
  setTimeout(async () => {
    await post("HeapProfiler.enable");
    await post("HeapProfiler.startSampling", {
      samplingInterval: 65_536,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    console.error(`heap-sample: sampling for ${duration} ms`);
    setTimeout(async () => {
      const { profile } = await post<{ profile: { head: HeapProfileNode } }>("HeapProfiler.stopSampling");
      const file = `${process.env.OUT ?? "/tmp"}/heap.json`;
      writeFileSync(file, JSON.stringify(profile));
      console.error(`heap-sample: wrote ${file}`);
    }, duration).unref();
  }, startAfter).unref();
}

function report(argv: string[]): void {
  const [file, flag, count] = argv;
  if (!file) throw new Error("usage: node dist/bench/heap-sample.js report HEAP.json [--top N]");
  const top = flag === "--top" ? Number(count) : 25;
  const { head } = JSON.parse(readFileSync(file, "utf8")) as { head: HeapProfileNode };
  const { self, caller } = summarizeHeapProfile(head);
  const total = self.reduce((sum, s) => sum + s.bytes, 0);
  const table = (title: string, sites: HeapSite[]) => {
    console.log(`\n${title} (of ${(total / 2 ** 20).toFixed(1)} MiB sampled)\n| MiB | % | site |\n| ---: | ---: | --- |`);
    for (const { site, bytes } of sites.slice(0, top))
      console.log(`| ${(bytes / 2 ** 20).toFixed(1)} | ${((100 * bytes) / total).toFixed(1)} | ${site} |`);
  };
  table("allocated by (self)", self);
  table("nearest frame of this project's code above the allocation", caller);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] !== "report") throw new Error("usage: node dist/bench/heap-sample.js report HEAP.json [--top N]");
  report(process.argv.slice(3));
}
