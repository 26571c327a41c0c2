// \`node --import ./dist/bench/heap-sample-preload.js …\`: samples the process's allocations (bench/heap-sample.ts).
import { startSampling } from "./heap-sample.js";

startSampling();
