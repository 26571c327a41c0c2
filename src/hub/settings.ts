import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where and how to reach the Hub, read from the environment the way huggingface_hub reads it. */
export interface HubSettings {
  /** Base URL without a trailing slash (`HF_ENDPOINT`, default https://huggingface.co). */
  endpoint: string;
  /** Access token: `--token`, else `HF_TOKEN` (or `HUGGING_FACE_HUB_TOKEN`), else the token file. */
  token?: string;
  /** The shared cache directory (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`). */
  cacheDir: string;
  /** `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set: never touch the network. */
  offline: boolean;
}

export const DEFAULT_ENDPOINT = "https://huggingface.co";

type Env = Record<string, string | undefined>;

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(env: Env): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return expandHome(home);
  return join(expandHome(nonEmpty(env.XDG_CACHE_HOME) ?? "~/.cache"), "huggingface");
}

export function hubCacheDir(env: Env): string {
  const explicit = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  return explicit ? expandHome(explicit) : join(hfHome(env), "hub");
}

/** huggingface_hub's truthy spellings: 1, ON, YES, TRUE (any case). */
export function isTruthy(value: string | undefined): boolean {
  return ["1", "on", "yes", "true"].includes((value ?? "").trim().toLowerCase());
}

/** The token `huggingface-cli login` saved: `$HF_TOKEN_PATH`, else `$HF_HOME/token`. */
function tokenFromFile(env: Env): string | undefined {
  const path = nonEmpty(env.HF_TOKEN_PATH) ? expandHome(env.HF_TOKEN_PATH!.trim()) : join(hfHome(env), "token");
  try {
    return nonEmpty(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

export function hubSettings(env: Env, overrides: { token?: string } = {}): HubSettings {
  const endpoint = (nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
  const token = nonEmpty(overrides.token) ?? nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN) ?? tokenFromFile(env);
  const offline = isTruthy(env.HF_HUB_OFFLINE) || isTruthy(env.TRANSFORMERS_OFFLINE);
  return { endpoint, ...(token ? { token } : {}), cacheDir: hubCacheDir(env), offline };
}
