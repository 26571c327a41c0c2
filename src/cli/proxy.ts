import { Agent, Dispatcher, ProxyAgent, setGlobalDispatcher } from "undici";

type Env = Record<string, string | undefined>;

/** Loopback hosts never go through a proxy: a local `swallow serve` or vLLM must stay reachable. */
const LOOPBACK = ["localhost", "127.0.0.1", "::1"];

/** The first of `names` that is set and not blank (curl reads the lower-case variable first). */
function variable(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** NO_PROXY's entries plus loopback, lower case. */
  noProxy: string[];
}

/** The proxy settings HTTPS_PROXY / HTTP_PROXY / NO_PROXY give, or null when no proxy is set. */
export function proxySettings(env: Env): ProxySettings | null {
  const httpProxy = variable(env, "http_proxy", "HTTP_PROXY");
  const httpsProxy = variable(env, "https_proxy", "HTTPS_PROXY");
  if (httpProxy === undefined && httpsProxy === undefined) return null;
  const listed = (variable(env, "no_proxy", "NO_PROXY") ?? "").split(",");
  const noProxy = [...listed, ...LOOPBACK].map((entry) => entry.trim().toLowerCase()).filter((entry) => entry !== "");
  return { ...(httpProxy ? { httpProxy } : {}), ...(httpsProxy ? { httpsProxy } : {}), noProxy };
}

/**
 * Whether `url` bypasses the proxy under NO_PROXY entries, as curl reads them: `*` matches every host; a name
 * matches itself and its subdomains (a leading dot is optional); an entry with `:port` matches that port only;
 * IPv6 hosts may be written with or without brackets.
 */
export function bypassesProxy(url: URL, noProxy: readonly string[]): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return noProxy.some((entry) => {
    if (entry === "*") return true;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const portMatch = bracketed ? null : /^([^:]+):(\d+)$/.exec(entry);
    const name = (bracketed?.[1] ?? portMatch?.[1] ?? entry).replace(/^\./, "");
    const entryPort = bracketed?.[2] ?? portMatch?.[2];
    if (entryPort !== undefined && entryPort !== port) return false;
    return host === name || host.endsWith(`.${name}`);
  });
}

/** Sends each request through the proxy for its scheme, or directly when NO_PROXY or loopback says so. */
class ProxyRouter extends Dispatcher {
  private readonly direct = new Agent();
  private readonly http: ProxyAgent | undefined;
  private readonly https: ProxyAgent | undefined;

  constructor(private readonly settings: ProxySettings) {
    super();
    this.http = settings.httpProxy ? new ProxyAgent(settings.httpProxy) : undefined;
    this.https = settings.httpsProxy ? new ProxyAgent(settings.httpsProxy) : this.http;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    const url = new URL(String(options.origin));
    const proxy = url.protocol === "https:" ? this.https : this.http;
    const agent = proxy && !bypassesProxy(url, this.settings.noProxy) ? proxy : this.direct;
    return agent.dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await Promise.all(this.agents().map((agent) => agent.close()));
  }

  override async destroy(): Promise<void> {
    await Promise.all(this.agents().map((agent) => agent.destroy()));
  }

  private agents(): Dispatcher[] {
    return [...new Set([this.direct, this.http, this.https].filter((agent): agent is Agent | ProxyAgent => agent !== undefined))];
  }
}

/**
 * Makes the CLI's downloads and HTTP clients (`pull`, `eval data download`, `eval --endpoint`) go through the
 * proxy named by HTTPS_PROXY / HTTP_PROXY, except for NO_PROXY's hosts and loopback, as curl and huggingface_hub
 * honour those variables. Node's built-in fetch ignores them; undici (the library behind that fetch) routes
 * through a proxy once its global dispatcher says so. Returns whether a proxy is in use. Only the CLI calls this:
 * a library should not change its host program's HTTP.
 */
export function useProxyFromEnvironment(env: Env = process.env): boolean {
  const settings = proxySettings(env);
  if (!settings) return false;
  setGlobalDispatcher(new ProxyRouter(settings));
  return true;
}
