import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local imitation of the Hugging Face Hub for tests (no network on CI): model info with
 * `?blobs=true`, HEAD/GET `resolve` URLs with the Hub's headers, LFS files answered with a 302 to a
 * second server standing for the CDN (another origin), Range requests, gated repositories, renamed
 * repositories (relative redirects), and switches that inject failures.
 */

export interface HubFileSpec {
  path: string;
  content: string | Uint8Array;
  /** Stored with Git LFS (served through the CDN, checked by sha256). */
  lfs?: boolean;
}

export interface HubRepoSpec {
  id: string;
  files: HubFileSpec[];
  /** Branches and tags → commit; default { main: <derived commit> }. */
  refs?: Record<string, string>;
  /** Gated: resolve needs one of these tokens (401 without a token, 403 with another). Model info stays public. */
  gatedTokens?: string[];
  /** An old id that answers with a relative redirect to this one. */
  renamedFrom?: string;
}

export interface HubFile {
  path: string;
  content: Buffer;
  lfs: boolean;
  size: number;
  /** git blob sha1 of the content (the ETag and blob name of a regular file). */
  gitSha1: string;
  /** sha256 of the content (the X-Linked-Etag and blob name of an LFS file). */
  sha256: string;
  /** The blob name huggingface_hub gives it: sha256 for LFS files, git sha1 otherwise. */
  etag: string;
}

export interface HubRepo {
  id: string;
  commit: string;
  refs: Record<string, string>;
  files: HubFile[];
  gatedTokens?: string[];
  renamedFrom?: string;
}

export interface RecordedRequest {
  server: "hub" | "cdn";
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface HubFaults {
  /** The next GET of each file (by repo path) sends this many bytes of the body, then closes the connection. */
  dropAfterBytes: Map<string, number>;
  /** These files are served with one byte flipped (same length and headers). */
  corrupt: Set<string>;
  /** resolve answers 404 EntryNotFound for these paths although the listing has them. */
  missing: Set<string>;
  /** The next this-many requests answer 503. */
  unavailable: number;
  /** Model info leaves out size/blobId/lfs even with ?blobs=true (forces HEAD requests). */
  noBlobsMetadata: boolean;
  /** Range headers are ignored: 200 with the whole file. */
  ignoreRange: boolean;
}

export interface FakeHub {
  /** Use as HF_ENDPOINT. */
  endpoint: string;
  /** The CDN server's origin (another port, so another origin). */
  cdnOrigin: string;
  repos: Map<string, HubRepo>;
  requests: RecordedRequest[];
  faults: HubFaults;
  close(): Promise<void>;
}

export function gitBlobSha1(content: Uint8Array): string {
  return createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
}

export function sha256Hex(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

function lfsPointer(file: HubFile): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${file.sha256}\nsize ${file.size}\n`);
}

export function buildRepo(spec: HubRepoSpec): HubRepo {
  const files = spec.files.map((f): HubFile => {
    const content = Buffer.from(f.content);
    const gitSha1 = gitBlobSha1(content);
    const sha256 = sha256Hex(content);
    return { path: f.path, content, lfs: f.lfs ?? false, size: content.byteLength, gitSha1, sha256, etag: f.lfs ? sha256 : gitSha1 };
  });
  const commit = createHash("sha1")
    .update(spec.id)
    .update(files.map((f) => `${f.path}:${f.sha256}`).join("\n"))
    .digest("hex");
  return { id: spec.id, commit, refs: spec.refs ?? { main: commit }, files, gatedTokens: spec.gatedTokens, renamedFrom: spec.renamedFrom };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: message }, { "x-error-code": code });
}

export async function startFakeHub(specs: HubRepoSpec[]): Promise<FakeHub> {
  const repos = new Map(specs.map((spec) => [spec.id, buildRepo(spec)]));
  const requests: RecordedRequest[] = [];
  const faults: HubFaults = {
    dropAfterBytes: new Map(),
    corrupt: new Set(),
    missing: new Set(),
    unavailable: 0,
    noBlobsMetadata: false,
    ignoreRange: false,
  };
  const hubServer = createServer();
  const cdnServer = createServer();
  const [hubPort, cdnPort] = await Promise.all([listen(hubServer), listen(cdnServer)]);
  const endpoint = `http://127.0.0.1:${hubPort}`;
  const cdnOrigin = `http://127.0.0.1:${cdnPort}`;

  /** Sends `file` (or the Range asked for), applying the corrupt / drop / ignoreRange faults. */
  function serveFile(req: IncomingMessage, res: ServerResponse, file: HubFile, headers: Record<string, string>): void {
    let body = file.content;
    if (faults.corrupt.has(file.path) && body.byteLength > 0) {
      body = Buffer.from(body);
      body[body.byteLength >> 1] ^= 0xff;
    }
    let status = 200;
    const rangeHeaders: Record<string, string> = {};
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range && !faults.ignoreRange) {
      const start = Number(range[1]);
      const end = range[2] === "" ? body.byteLength - 1 : Math.min(Number(range[2]), body.byteLength - 1);
      if (start >= body.byteLength) {
        res.writeHead(416, { "content-range": `bytes */${body.byteLength}` });
        return void res.end();
      }
      status = 206;
      rangeHeaders["content-range"] = `bytes ${start}-${end}/${body.byteLength}`;
      body = body.subarray(start, end + 1);
    }
    res.writeHead(status, {
      ...headers,
      ...rangeHeaders,
      "accept-ranges": "bytes",
      "content-length": body.byteLength,
      "content-type": "application/octet-stream",
    });
    if (req.method === "HEAD") return void res.end();
    const dropAfter = faults.dropAfterBytes.get(file.path);
    if (dropAfter !== undefined && dropAfter < body.byteLength) {
      faults.dropAfterBytes.delete(file.path);
      // Close only once the client has had time to read the bytes: a stream that errors drops the
      // chunks still queued in it, which would make the resume offset racy.
      res.write(body.subarray(0, dropAfter), () => setTimeout(() => req.socket.end(), 50));
      return;
    }
    res.end(body);
  }

  function findRepo(id: string): HubRepo | undefined {
    return repos.get(id);
  }

  function renamedTo(id: string): HubRepo | undefined {
    return [...repos.values()].find((r) => r.renamedFrom === id);
  }

  function commitFor(repo: HubRepo, revision: string): string | undefined {
    return repo.refs[revision] ?? (revision === repo.commit ? repo.commit : undefined);
  }

  function handleHub(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", endpoint);
    const api = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url.pathname);
    if (api) {
      const [, id, revisionEncoded] = api;
      const revision = decodeURIComponent(revisionEncoded);
      const moved = renamedTo(id);
      if (moved) {
        res.writeHead(307, { location: `/api/models/${moved.id}/revision/${revisionEncoded}${url.search}` });
        return void res.end();
      }
      const repo = findRepo(id);
      if (!repo) return sendError(res, 404, "RepoNotFound", "Repository not found");
      const commit = commitFor(repo, revision);
      if (!commit) return sendError(res, 404, "RevisionNotFound", `Invalid rev id: ${revision}`);
      const blobs = url.searchParams.get("blobs") === "true" && !faults.noBlobsMetadata;
      const siblings = repo.files.map((f) => {
        if (!blobs) return { rfilename: f.path };
        const pointer = f.lfs ? lfsPointer(f) : undefined;
        return {
          rfilename: f.path,
          blobId: pointer ? gitBlobSha1(pointer) : f.gitSha1,
          size: f.size,
          ...(pointer ? { lfs: { sha256: f.sha256, size: f.size, pointerSize: pointer.byteLength } } : {}),
        };
      });
      return sendJson(res, 200, {
        _id: repo.commit.slice(0, 24),
        id: repo.id,
        modelId: repo.id,
        sha: commit,
        private: false,
        gated: repo.gatedTokens ? "manual" : false,
        siblings,
      });
    }

    const resolve = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (resolve && (req.method === "GET" || req.method === "HEAD")) {
      const [, id, revisionEncoded, pathEncoded] = resolve;
      const moved = renamedTo(id);
      if (moved) {
        res.writeHead(307, { location: `/${moved.id}/resolve/${revisionEncoded}/${pathEncoded}` });
        return void res.end();
      }
      const repo = findRepo(id);
      if (!repo) return sendError(res, 404, "RepoNotFound", "Repository not found");
      if (repo.gatedTokens) {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        if (!token)
          return sendError(res, 401, "GatedRepo", `Access to model ${repo.id} is restricted. You must be authenticated to access it.`);
        if (!repo.gatedTokens.includes(token))
          return sendError(res, 403, "GatedRepo", `Access to model ${repo.id} is restricted and you are not in the authorized list.`);
      }
      const commit = commitFor(repo, decodeURIComponent(revisionEncoded));
      if (!commit) return sendError(res, 404, "RevisionNotFound", "Invalid rev id");
      const path = pathEncoded.split("/").map(decodeURIComponent).join("/");
      const file = repo.files.find((f) => f.path === path);
      if (!file || faults.missing.has(path)) return sendError(res, 404, "EntryNotFound", `${path} does not exist on "${commit}"`);
      if (file.lfs) {
        res.writeHead(302, {
          location: `${cdnOrigin}/cdn/${file.sha256}?signature=test`,
          "x-repo-commit": commit,
          etag: `"${gitBlobSha1(lfsPointer(file))}"`,
          "x-linked-etag": `"${file.sha256}"`,
          "x-linked-size": String(file.size),
          "content-length": "0",
        });
        return void res.end();
      }
      return serveFile(req, res, file, { "x-repo-commit": commit, etag: `"${file.gitSha1}"` });
    }
    sendError(res, 404, "NotFound", `no route for ${req.method} ${url.pathname}`);
  }

  function handleCdn(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", cdnOrigin);
    const match = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    const file = match ? [...repos.values()].flatMap((r) => r.files).find((f) => f.lfs && f.sha256 === match[1]) : undefined;
    if (!file || url.searchParams.get("signature") !== "test") {
      res.writeHead(403);
      return void res.end("bad signature or unknown object");
    }
    serveFile(req, res, file, { etag: `"${file.sha256}"` });
  }

  function handler(server: "hub" | "cdn") {
    return (req: IncomingMessage, res: ServerResponse) => {
      requests.push({ server, method: req.method ?? "", url: req.url ?? "", headers: req.headers });
      if (faults.unavailable > 0) {
        faults.unavailable--;
        return sendError(res, 503, "ServiceUnavailable", "try again");
      }
      (server === "hub" ? handleHub : handleCdn)(req, res);
    };
  }
  hubServer.on("request", handler("hub"));
  cdnServer.on("request", handler("cdn"));

  return {
    endpoint,
    cdnOrigin,
    repos,
    requests,
    faults,
    close: async () => {
      for (const server of [hubServer, cdnServer]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}
