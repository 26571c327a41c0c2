import test from "node:test";
import OpenAI from "openai";
import { loadModel } from "../../src/index.js";
import { App } from "../../src/server/app.js";
import { startServer } from "../../src/server/node-server.js";
import { tinyDir } from "./tiny-fixtures.js";

/**
 * `swallow serve` in-process on the tiny gqa-llama3 checkpoint (cpu backend) on a free port, with an openai client
 * for it; the server and the engine close after the test file.
 */
export async function startTinyServer(options: { name?: string; maxNumSeqs: number }) {
  const name = options.name ?? "tiny";
  const model = await loadModel(tinyDir("gqa-llama3"), { backend: "cpu", maxNumSeqs: options.maxNumSeqs });
  const app = new App({ servedModelName: name });
  app.setModel(model);
  const server = await startServer(app, { port: 0 });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
  test.after(async () => {
    await server.close({ graceMs: 1000 });
    await model.engine.close({ abortRunning: true });
  });
  return { model, server, client };
}
