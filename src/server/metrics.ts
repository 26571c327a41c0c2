import type { EngineStats } from "../engine/request.js";

/** vLLM's bucket bounds (seconds) for time to first token. */
export const TTFT_BUCKETS_S = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];
/** vLLM's bucket bounds (seconds) for time per output token. */
export const TPOT_BUCKETS_S = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

/** A Prometheus histogram: cumulative counts per upper bound, plus sum and count. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly boundsS: readonly number[]) {
    this.counts = new Array<number>(boundsS.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.boundsS.length; i++) if (value <= this.boundsS[i]) this.counts[i]++;
  }

  /** Text exposition lines (`_bucket` cumulative with `le`, then `_sum` and `_count`). */
  lines(name: string, labels: string): string[] {
    const out = this.boundsS.map((bound, i) => `${name}_bucket{${labels}${labels ? "," : ""}le="${bound}"} ${this.counts[i]}`);
    out.push(`${name}_bucket{${labels}${labels ? "," : ""}le="+Inf"} ${this.count}`);
    out.push(`${name}_sum{${labels}} ${this.sum}`, `${name}_count{${labels}} ${this.count}`);
    return out;
  }
}

/** The server's counters; engine gauges and token counters are read from `EngineStats` at scrape time. */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  readonly timeToFirstTokenS = new Histogram(TTFT_BUCKETS_S);
  readonly timePerOutputTokenS = new Histogram(TPOT_BUCKETS_S);

  /** Counts one HTTP response by route and status code. */
  countRequest(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  /** Records one finished choice's latencies: first token after `firstTokenS`, then `outputTokens` − 1 more by `lastTokenS`. */
  observeChoice(firstTokenS: number, lastTokenS: number, outputTokens: number): void {
    this.timeToFirstTokenS.observe(firstTokenS);
    if (outputTokens > 1) this.timePerOutputTokenS.observe((lastTokenS - firstTokenS) / (outputTokens - 1));
  }

  /** Prometheus text exposition format 0.0.4, metric names as vLLM's with the `swallow:` prefix. */
  render(modelName: string, stats: EngineStats | null): string {
    const model = `model_name="${escapeLabel(modelName)}"`;
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: string[]) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    metric(
      "swallow:http_requests_total",
      "counter",
      "HTTP responses by route and status code.",
      [...this.requests].map(([labels, n]) => `swallow:http_requests_total{${model},${labels}} ${n}`),
    );
    if (stats) {
      const usage = stats.kvBlocksTotal > 0 ? stats.kvBlocksUsed / stats.kvBlocksTotal : 0;
      metric("swallow:num_requests_running", "gauge", "Requests with KV blocks (prefilling or decoding).", [
        `swallow:num_requests_running{${model}} ${stats.running}`,
      ]);
      metric("swallow:num_requests_waiting", "gauge", "Requests queued but not scheduled (preempted included).", [
        `swallow:num_requests_waiting{${model}} ${stats.waiting}`,
      ]);
      metric("swallow:kv_cache_usage_perc", "gauge", "Fraction of KV cache blocks in use (1 = full).", [
        `swallow:kv_cache_usage_perc{${model}} ${usage}`,
      ]);
      metric("swallow:prompt_tokens_total", "counter", "Prompt tokens processed.", [
        `swallow:prompt_tokens_total{${model}} ${stats.promptTokensTotal}`,
      ]);
      metric("swallow:generation_tokens_total", "counter", "Tokens generated.", [
        `swallow:generation_tokens_total{${model}} ${stats.generationTokensTotal}`,
      ]);
      metric("swallow:prefix_cache_hit_tokens_total", "counter", "Prompt tokens whose KV came from the prefix cache.", [
        `swallow:prefix_cache_hit_tokens_total{${model}} ${stats.prefixCacheHitTokensTotal}`,
      ]);
      metric("swallow:num_preemptions_total", "counter", "Requests preempted because KV blocks ran out.", [
        `swallow:num_preemptions_total{${model}} ${stats.preemptionsTotal}`,
      ]);
      metric("swallow:request_success_total", "counter", "Engine requests finished.", [
        `swallow:request_success_total{${model}} ${stats.requestsFinishedTotal}`,
      ]);
    }
    metric(
      "swallow:time_to_first_token_seconds",
      "histogram",
      "Time from request arrival to its first token.",
      this.timeToFirstTokenS.lines("swallow:time_to_first_token_seconds", model),
    );
    metric(
      "swallow:time_per_output_token_seconds",
      "histogram",
      "Mean time between output tokens of a request.",
      this.timePerOutputTokenS.lines("swallow:time_per_output_token_seconds", model),
    );
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
