import { SwallowError } from "../../errors.js";
import { App } from "../../server/app.js";
import { DEFAULT_MAX_BODY_BYTES, startServer } from "../../server/node-server.js";
import { byteSizeFlag, numberFlag, parseCommandArgs } from "../args.js";
import { info } from "../io.js";
import { loadFromFlags, modelFlags } from "../load.js";
import { warmUp } from "../../engine/warm-up.js";
import type { Backend } from "../../gpu/backend.js";

const HELP = `usage: swallow serve [--model DIR|ORG/NAME] [--host 127.0.0.1] [--port 8000] [--api-key KEY]
                     [--served-model-name NAME] [--backend cpu|webgpu|auto] [--max-num-seqs N]
                     [--max-num-batched-tokens N] [--max-model-len N] [--kv-cache-memory-bytes SIZE]
                     [--max-body-bytes N] [--cors] [--batch-invariant] [--no-robustness]

An OpenAI-compatible server (vLLM's API): POST /v1/chat/completions and /v1/completions (streaming with
"stream": true), GET /v1/models, /health, /metrics (Prometheus), POST /tokenize and /detokenize (vLLM's), and a
chat page at /. /health answers 503 until the weights are loaded and a short warm-up has compiled every kernel
variant the server will meet (forward passes at each batch size where the kernels change), then 200.
--host defaults to 127.0.0.1 (this machine only); use 0.0.0.0 to serve other machines, with --api-key.
--api-key (or SWALLOW_API_KEY) makes every /v1 route, /tokenize and /detokenize require "Authorization: Bearer KEY".
--served-model-name is the name clients pass as "model" (default: the --model argument).
--max-num-seqs caps requests decoded together (default 256 on tensor cores, else 64); more wait in a queue (429 when
it is full).
--max-num-batched-tokens caps the tokens of one forward pass, decode tokens plus prefill chunks (default 2048 on
tensor cores, else 512): larger prefills faster between decode steps, smaller keeps the time per output token even.
--kv-cache-memory-bytes sets the KV cache's size (vLLM's flag; e.g. 40GB or 37.25GiB). WebGPU cannot tell how much
memory the GPU has, so by default the cache holds --max-model-len × --max-num-seqs tokens, at most 131,072, shrunk
to what fits beside the weights where that does not (a memory: line says so); a larger one keeps more requests
running at once. A size given is kept, or refused at start-up when it does not fit.
--cors adds Access-Control-Allow-Origin: * so pages on other origins can call the API.
WebGPU runs batches of 3+ tokens on the GPU's tensor cores (subgroup matrices) where it has them and they pass a
start-up check against the reference: much faster prefill and batched decoding, but a request's output then depends
slightly on what else is being served (as in vLLM). --batch-invariant keeps kernels whose results never depend on
the batch (vLLM's VLLM_BATCH_INVARIANT; prefill ~15× slower on an H100); --tensor-cores skips the check.
--no-robustness (WebGPU in Node) drops the bounds clamping Dawn adds to every buffer access, as native engines run:
faster kernels (the tensor-core matmuls most), trusting ours to stay in bounds (the tests run both ways).
Ctrl-C (SIGINT) or SIGTERM stops taking requests, lets running ones finish for 10 s, then cancels them.`;

/**
 * --max-num-seqs by default: vLLM's 256 where the backend's kernels batch (tensor cores: a forward pass of 2,048
 * tokens; on an H100 a decode step of 256 rows takes 51.6 ms against 29.6 for 128, bench/NOTES.md session 16), else
 * 64 (the GEMV kernels' step time grows in proportion to the rows past 8).
 */
export function serverMaxNumSeqs(backend: Backend): number {
  return backend.preferredBatchTokens !== undefined ? 256 : 64;
}

export async function runServe(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("serve", argv, {
    ...modelFlags,
    host: { type: "string" },
    port: { type: "string" },
    "api-key": { type: "string" },
    "served-model-name": { type: "string" },
    "max-num-seqs": { type: "string" },
    "max-num-batched-tokens": { type: "string" },
    "kv-cache-memory-bytes": { type: "string" },
    "max-body-bytes": { type: "string" },
    cors: { type: "boolean" },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const port = numberFlag("port", values.port, true) ?? 8000;
  if (port < 0 || port > 65535) throw new SwallowError(`--port must be in 0..65535, got ${port}`);
  const maxNumSeqs = numberFlag("max-num-seqs", values["max-num-seqs"], true);
  if (maxNumSeqs !== undefined && maxNumSeqs < 1) throw new SwallowError(`--max-num-seqs must be at least 1, got ${maxNumSeqs}`);
  const maxBatchTokens = numberFlag("max-num-batched-tokens", values["max-num-batched-tokens"], true);
  if (maxBatchTokens !== undefined && maxBatchTokens < 1) {
    throw new SwallowError(`--max-num-batched-tokens must be at least 1, got ${maxBatchTokens}`);
  }
  const kvCacheBytes = byteSizeFlag("kv-cache-memory-bytes", values["kv-cache-memory-bytes"]);
  const maxBodyBytes = numberFlag("max-body-bytes", values["max-body-bytes"], true) ?? DEFAULT_MAX_BODY_BYTES;
  if (maxBodyBytes < 1024) throw new SwallowError(`--max-body-bytes must be at least 1024, got ${maxBodyBytes}`);
  const apiKey = values["api-key"] ?? process.env.SWALLOW_API_KEY;
  if (apiKey !== undefined && apiKey.length === 0) throw new SwallowError("--api-key must not be empty");
  const servedModelName = values["served-model-name"] ?? values.model ?? "demo";
  const host = values.host ?? "127.0.0.1";

  // Listen first so /health answers 503 while the weights load, as vLLM's readiness probe expects.
  const app = new App({ servedModelName, apiKey, cors: values.cors === true });
  const server = await startServer(app, { host, port, maxBodyBytes }).catch((error: NodeJS.ErrnoException) => {
    throw new SwallowError(`cannot listen on ${host}:${port} (${error.code ?? error.message}); choose another --port or --host`);
  });
  info(`swallow serve: listening on ${server.url} (model "${servedModelName}" loading)`);
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "::1" && apiKey === undefined) {
    info("swallow serve: warning: serving beyond this machine without --api-key; anyone who can reach the port can use it");
  }
  let shutdown: (() => void) | null = null;
  const stopped = new Promise<void>((resolve) => (shutdown = resolve));
  const onSignal = () => shutdown?.();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const loading = loadFromFlags(values, { maxNumSeqs, maxBatchTokens, kvCacheBytes, defaultMaxNumSeqs: serverMaxNumSeqs });
    const model = await Promise.race([loading, stopped.then(() => null)]);
    // Compile every kernel variant before /health says ready; a shutdown meanwhile aborts the warm-up's requests.
    const warming = model ? warmUp(model, { maxNumSeqs: maxNumSeqs ?? serverMaxNumSeqs(model.runner.backend) }) : null;
    warming?.catch(() => {}); // a rejection after a shutdown won the race below is expected
    const warm = warming ? await Promise.race([warming, stopped.then(() => null)]) : null;
    if (model && warm) {
      info(`swallow serve: kernels warmed up for ${warm.sizes.length} batch sizes in ${(warm.ms / 1000).toFixed(1)} s`);
      app.setModel(model);
      info(`swallow serve: ready at ${server.url} (chat page at ${server.url}/)`);
      await stopped;
    }
    info("swallow serve: shutting down (finishing running requests, at most 10 s)");
    await server.close({ graceMs: 10_000 });
    await model?.engine.close({ abortRunning: true });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
