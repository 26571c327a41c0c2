import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { App, errorResponse, type AppResponse } from "./app.js";
import { HttpError } from "./http-error.js";

export interface ServeOptions {
  /** Default 127.0.0.1: reachable from this machine only unless the user says otherwise. */
  host?: string;
  /** Default 8000 (vLLM's); 0 picks a free port. */
  port?: number;
  /** Largest request body accepted (413 beyond). Default 8 MiB: a 128k-token prompt as a token-id list fits. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  app: App;
  /** e.g. `http://127.0.0.1:8000`. */
  url: string;
  /**
   * Graceful shutdown: stop accepting connections, answer 503 to new requests, let in-flight ones finish for
   * `graceMs` (then abort them), and close idle keep-alive sockets.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Serves an {@link App} over node:http. The model may be set later (`app.setModel`): until then /health answers 503. */
export async function startServer(app: App, options: ServeOptions): Promise<RunningServer> {
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = createServer((req, res) => void serveOne(app, req, res, maxBodyBytes));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8000, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { app, url: `http://${host}:${address.port}`, close: (closeOptions) => closeServer(server, app, closeOptions?.graceMs ?? 10_000) };
}

async function closeServer(server: Server, app: App, graceMs: number): Promise<void> {
  app.drain(false);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  while (app.inFlightCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (app.inFlightCount > 0) app.drain(true);
  while (app.inFlightCount > 0) await new Promise((r) => setTimeout(r, 10));
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 1000).unref();
  await closed;
}

async function serveOne(app: App, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): Promise<void> {
  // The client going away before the response ends aborts the request's engine work (its KV blocks are freed).
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  let response: AppResponse;
  try {
    const body = req.method === "POST" ? await readBody(req, maxBodyBytes) : undefined;
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    response = await app.handle({ method: req.method ?? "GET", path: req.url ?? "/", headers, body, signal: controller.signal });
  } catch (error) {
    response = errorResponse(error);
    if (error instanceof HttpError && error.status === 413) response.headers.Connection = "close";
  }
  await writeResponse(res, response);
}

function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<string> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  const tooLarge = () =>
    new HttpError(413, `the request body is larger than ${maxBodyBytes} bytes; send a smaller request (the limit is set by the server)`);
  if (declared > maxBodyBytes) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function writeResponse(res: ServerResponse, response: AppResponse): Promise<void> {
  if (res.destroyed) {
    if (typeof response.body !== "string") await response.body[Symbol.asyncIterator]().return?.();
    return;
  }
  res.writeHead(response.status, response.headers);
  if (typeof response.body === "string") {
    res.end(response.body);
    return;
  }
  res.flushHeaders();
  const iterator = response.body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      if (res.destroyed) break;
      if (!res.write(next.value))
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
    }
  } finally {
    await iterator.return?.();
    res.end();
  }
}
