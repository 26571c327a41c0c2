import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { FakeBackend } from "../src/eval/backends/fake-backend.js";
import { LocalDatasets } from "../src/eval/datasets/registry.js";
import { buildReport, reportMarkdown } from "../src/eval/report/tables.js";
import { runTasks } from "../src/eval/runner/run-tasks.js";
import { ResultStore } from "../src/eval/store/result-store.js";
import { allTasks, selectTasks } from "../src/eval/tasks/index.js";
import { makeBbhTask, makeMmluTask } from "../src/eval/tasks/en/index.js";
import type { EvalBackend } from "../src/eval/types.js";
import { runCli } from "./support/cli.js";
import { fixturesDir } from "./support/paths.js";

const data = new LocalDatasets(path.join(fixturesDir, "eval", "data"));
// mmlu is left out: its fixture has only a few of the 57 subjects (tasks/en tests it with its own subject list).
const TASKS = "jcommonsenseqa,jmmlu,mgsm,openbookqa,hellaswag,gsm8k";

/** Counts the calls that reach a backend. */
function counted(inner: EvalBackend): { backend: EvalBackend; calls: () => number } {
  let n = 0;
  return {
    backend: {
      id: inner.id,
      loglikelihood: (r) => (n++, inner.loglikelihood(r)),
      generateUntil: (r) => (n++, inner.generateUntil(r)),
      chat: (r) => (n++, inner.chat(r)),
    },
    calls: () => n,
  };
}

test("selectTasks: suites, names, card order and unknown names", () => {
  assert.equal(selectTasks("ja").length, 10);
  assert.equal(selectTasks("en").length, 9);
  assert.equal(selectTasks("mtbench").length, 8);
  assert.deepEqual(
    selectTasks("mmlu,jcommonsenseqa,mmlu").map((t) => t.name),
    ["jcommonsenseqa", "mmlu"],
  );
  assert.deepEqual(
    selectTasks("code").map((t) => t.name),
    ["jhumaneval", "humaneval"],
  );
  assert.throws(() => selectTasks("jcom"), /unknown task "jcom"; choose from ja, en, mtbench, code or: jcommonsenseqa/);
});

test("real tasks on fixture data through the runner, store and report with a fake backend; a rerun sends nothing", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-e2e-"));
  try {
    const tasks = selectTasks(TASKS);
    // Always answers "1" (a digit for llm-jp-eval's choice tasks, a number for GSM8K/MGSM); prefers shorter continuations.
    const fake = new FakeBackend({ generate: () => "1\n\n", loglikelihood: (r) => -r.continuation.length / 10 }, "fake-model");
    const first = counted(fake);
    const store = new ResultStore(path.join(dir, "results.sqlite"));
    const results = await runTasks({
      runId: "fake",
      tasks,
      models: { model: first.backend },
      store,
      data,
      limit: 3,
      concurrency: 2,
      progress: false,
    });
    // Card order: MGSM comes before JMMLU in the Japanese table.
    assert.deepEqual(
      results.map((r) => r.task.name),
      ["jcommonsenseqa", "mgsm", "jmmlu", "openbookqa", "hellaswag", "gsm8k"],
    );
    for (const r of results) {
      assert.ok(r.outcomes.length > 0 && r.outcomes.length <= 3 * 60, `${r.task.name}: ${r.outcomes.length} outcomes`);
      assert.ok(r.score >= 0 && r.score <= 1, `${r.task.name}: ${r.score}`);
    }
    assert.ok(first.calls() > 0);

    const second = counted(fake);
    const again = await runTasks({ runId: "fake", tasks, models: { model: second.backend }, store, data, limit: 3, progress: false });
    assert.equal(second.calls(), 0);
    assert.deepEqual(
      again.map((r) => r.score),
      results.map((r) => r.score),
    );
    assert.ok(again.every((r) => r.resumed === r.outcomes.length));

    const md = reportMarkdown(buildReport(store.runs(), allTasks()));
    assert.match(md, /## Japanese tasks/);
    assert.match(md, /## English tasks/);
    assert.match(md, new RegExp(`\\| fake \\| ${results[0].score.toFixed(4)} \\|`));
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fake OpenAI-compatible server for the eval CLI: echo log-probs of -1, "1\n\n" for generations. */
async function fakeEvalServer(
  maxModelLen: number | null = null,
): Promise<{ url: string; completions: () => number; close: () => Promise<void> }> {
  let completions = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/v1/models") return res.end(JSON.stringify({ data: [{ id: "served", max_model_len: maxModelLen }] }));
      completions++;
      const request = JSON.parse(body) as { prompt: number[]; echo?: boolean };
      if (!request.echo) return res.end(JSON.stringify({ choices: [{ text: "1\n\n" }] }));
      res.end(
        JSON.stringify({
          choices: [
            {
              text: "",
              logprobs: {
                tokens: request.prompt.map(String),
                token_logprobs: request.prompt.map((_, i) => (i === 0 ? null : -1)),
                top_logprobs: request.prompt.map(() => null),
              },
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    completions: () => completions,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const evalArgs = (endpoint: string, dir: string) => [
  "eval",
  "--endpoint",
  endpoint,
  "--tokenizer",
  path.join(fixturesDir, "tiny-tokenizer"),
  "--tasks",
  "jcommonsenseqa,openbookqa",
  "--limit",
  "2",
  "--data-dir",
  path.join(fixturesDir, "eval", "data"),
  "--output",
  dir,
];

test("swallow eval --endpoint against a fake OpenAI-compatible server writes the report and resumes", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-eval-cli-"));
  const server = await fakeEvalServer();
  try {
    const args = evalArgs(server.url, dir);
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /\| served \| [01]\.\d{4} \| – \|/);
    assert.match(first.stderr, /jcommonsenseqa: [01]\.\d{4} \(2 items, 0 resumed/);
    const json = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8"));
    assert.equal(json.tables[0].rows[0].runId, "served");
    assert.match(readFileSync(path.join(dir, "chart.svg"), "utf8"), /^<svg/);
    const sent = server.completions();
    assert.ok(sent > 0);
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(server.completions(), sent, "a rerun must not send any request again");
    assert.match(second.stderr, /jcommonsenseqa: [01]\.\d{4} \(2 items, 2 resumed/);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("swallow eval --endpoint URL1,URL2 spreads requests over both replicas with the same scores as one endpoint", async () => {
  const dirs = [mkdtempSync(path.join(tmpdir(), "swallow-eval-one-")), mkdtempSync(path.join(tmpdir(), "swallow-eval-two-"))];
  const servers = await Promise.all([fakeEvalServer(4096), fakeEvalServer(4096), fakeEvalServer(4096), fakeEvalServer(2048)]);
  try {
    const one = await runCli(evalArgs(servers[0].url, dirs[0]));
    assert.equal(one.code, 0, one.stderr);
    const sentToOne = servers[0].completions();
    const two = await runCli(evalArgs(`${servers[1].url},${servers[2].url}`, dirs[1]));
    assert.equal(two.code, 0, two.stderr);
    assert.ok(servers[1].completions() > 0 && servers[2].completions() > 0, "both replicas must get requests");
    assert.equal(servers[1].completions() + servers[2].completions(), sentToOne);
    const scores = (stderr: string) => stderr.match(/(jcommonsenseqa|openbookqa): [01]\.\d{4}/g);
    assert.deepEqual(scores(two.stderr), scores(one.stderr));
    // Replicas must serve the model with one length, or the same prompt could be cut differently.
    const mixed = await runCli(evalArgs(`${servers[1].url},${servers[3].url}`, dirs[1]));
    assert.equal(mixed.code, 2, mixed.stderr);
    assert.match(mixed.stderr, /the endpoints serve different model lengths .*4096.*2048.*same --max-model-len/);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
});

test("HTTP_PROXY: the CLI's requests go through the proxy (Node's fetch alone would ignore it)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-eval-proxy-"));
  const target = await fakeEvalServer();
  const targetPort = Number(new URL(target.url).port);
  // A forward proxy that sends every request, whatever host it names, to the fake server; it logs the hosts.
  const seen: string[] = [];
  const proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://unused");
    const upstream = httpRequest(
      { host: "127.0.0.1", port: targetPort, path: url.pathname + url.search, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  proxy.on("connect", (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    const upstream = connect(targetPort, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  try {
    // .invalid never resolves (RFC 2606): only the proxy can reach this endpoint.
    const endpoint = `http://swallow-eval.invalid:${targetPort}/v1`;
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const result = await runCli(evalArgs(endpoint, dir), "", { HTTP_PROXY: proxyUrl, http_proxy: "", NO_PROXY: "", no_proxy: "" });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(target.completions() > 0);
    assert.ok(seen.length > 0 && seen.every((line) => line.includes(`swallow-eval.invalid:${targetPort}`)), seen.join("\n"));
  } finally {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("swallow eval: bad flags and missing data are one-line errors", async () => {
  const noTasks = await runCli(["eval", "--endpoint", "http://127.0.0.1:1/v1"]);
  assert.equal(noTasks.code, 2);
  assert.match(noTasks.stderr, /^swallow eval: give --tasks/);
  const judge = await runCli(["eval", "--endpoint", "http://127.0.0.1:1/v1", "--tasks", "mtbench"]);
  assert.match(judge.stderr, /MT-Bench needs a judge: add --judge-endpoint URL --judge-model NAME/);
  const missing = await runCli(["eval", "--endpoint", "http://127.0.0.1:1/v1", "--tasks", "jsquad", "--data-dir", "/nonexistent"]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.stderr,
    /dataset "jsquad-v1\.1" is not in \/nonexistent; run `swallow eval data download jsquad-v1\.1 --data-dir \/nonexistent`/,
  );
  const unknown = await runCli(["eval", "data", "download", "nope", "--data-dir", "/tmp/x-never"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown dataset "nope"; choose from: all, jcommonsenseqa-v1\.1/);
});

test("MT-Bench through the runner: answers from the model, ratings from the judge, 0–1 score, judge calls memoised", async () => {
  const store = new ResultStore(":memory:");
  const model = new FakeBackend({ generate: () => "日本の首都は東京です。", chat: () => "日本の首都は東京です。" }, "fake-model");
  const judgeFake = new FakeBackend({ chat: () => "とても良い回答です。\n\nRating: [[8]]" }, "fake-judge");
  const judge = counted(judgeFake);
  const tasks = selectTasks("jmtbench_extraction,jmtbench_math");
  const results = await runTasks({ runId: "mt", tasks, models: { model, judge: judge.backend }, store, data, limit: 1, progress: false });
  for (const r of results) {
    assert.equal(r.outcomes.length, 1);
    // Every turn of every run was rated 8 on FastChat's 1–10 scale.
    assert.ok(Math.abs(r.score - 0.8) < 1e-12, `${r.task.name}: ${r.score}`);
  }
  assert.ok(judgeFake.requests.length > 0 && judgeFake.requests.every((q) => q.kind === "chat"));
  const before = judge.calls();
  await runTasks({ runId: "mt-again", tasks, models: { model, judge: judge.backend }, store, data, limit: 1, progress: false });
  assert.equal(judge.calls(), before, "a new run over the same requests reuses the stored judgments");
  const md = reportMarkdown(buildReport(store.runs(), allTasks()));
  assert.match(md, /## Japanese MT-Bench/);
  assert.match(md, /\| mt \| – \| 0\.8000 \| – \| 0\.8000 \| – \| – \| – \| – \| – \|/);
  store.close();
});

test("swallow eval --model runs the in-process engine on the tiny checkpoint", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-eval-model-"));
  try {
    // The tiny checkpoint allows 256 positions; the few-shot prompts are longer in its byte-level tokens, so a copy
    // declares 4096 (RoPE works at any position; the numbers are meaningless, the plumbing is what is tested).
    const checkpoint = path.join(dir, "gqa-llama3");
    cpSync(path.join(fixturesDir, "tiny", "gqa-llama3"), checkpoint, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(checkpoint, "config.json"), "utf8"));
    writeFileSync(path.join(checkpoint, "config.json"), JSON.stringify({ ...config, max_position_embeddings: 4096 }));
    const result = await runCli([
      "eval",
      "--model",
      checkpoint,
      "--backend",
      "cpu",
      "--tasks",
      "jcommonsenseqa,hellaswag",
      "--limit",
      "2",
      "--data-dir",
      path.join(fixturesDir, "eval", "data"),
      "--output",
      path.join(dir, "out"),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /hellaswag: [01]\.\d{4} \(2 items, 0 resumed/);
    const json = JSON.parse(readFileSync(path.join(dir, "out", "report.json"), "utf8"));
    assert.deepEqual(json.runs[0].runId, "gqa-llama3");
    assert.equal(typeof json.runs[0].scores.hellaswag, "number");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--mtbench-answers switches MT-Bench to the chat template (a different task version, so results never mix)", () => {
  const fastchat = allTasks().find((t) => t.name === "jmtbench_math")!;
  const template = allTasks({ mtbench: { answerFormat: "chat-template" } }).find((t) => t.name === "jmtbench_math")!;
  assert.notEqual(fastchat.version, template.version);
});

test("every task of the card end to end on fixture data with a fake backend (code in the sandbox, MT-Bench with a fake judge)", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-e2e-all-"));
  const code = new LocalDatasets(path.join(fixturesDir, "eval", "code"));
  const access = {
    dir: (name: string) => {
      try {
        return data.dir(name);
      } catch {
        return code.dir(name);
      }
    },
  };
  try {
    // mmlu and bbh with the subjects their fixtures hold (the others have no fixture files); every other task as registered.
    const tasks = [
      ...allTasks().filter((t) => t.name !== "mmlu" && t.name !== "bbh_cot_fewshot"),
      makeMmluTask(["abstract_algebra", "high_school_us_history"]),
      makeBbhTask(["boolean_expressions", "snarks"]),
    ];
    for (const task of tasks) {
      const needsTokenizer = task as unknown as {
        setTokenizer?: (t: { encode(s: string): number[]; decode(ids: number[]): string }) => void;
      };
      needsTokenizer.setTokenizer?.({
        encode: (text) => [...text].map((c) => c.codePointAt(0)!),
        decode: (ids) => String.fromCodePoint(...ids),
      });
    }
    const model = new FakeBackend(
      { generate: () => "    return 1\n\n", loglikelihood: (r) => -r.continuation.length / 10, chat: () => "答えは1です。" },
      "fake-model",
    );
    const judge = new FakeBackend({ chat: () => "Rating: [[7]]" }, "fake-judge");
    const store = new ResultStore(path.join(dir, "results.sqlite"));
    const results = await runTasks({
      runId: "all",
      tasks,
      models: { model, judge },
      store,
      data: access,
      limit: 2,
      concurrency: 4,
      progress: false,
    });
    assert.equal(results.length, allTasks().length);
    // The MT-Bench fixture has 5 questions (coding, extraction, math, roleplay, STEM): the other categories have none.
    const empty = new Set(["jmtbench_humanities", "jmtbench_reasoning", "jmtbench_writing"]);
    for (const r of results) {
      if (empty.has(r.task.name)) continue;
      assert.ok(r.outcomes.length > 0, `${r.task.name}: no outcomes`);
      assert.ok(Number.isFinite(r.score) && r.score >= 0 && r.score <= 1, `${r.task.name}: score ${r.score}`);
    }
    assert.equal(results.filter((r) => r.outcomes.length > 0).length, allTasks().length - empty.size);
    const md = reportMarkdown(buildReport(store.runs(), allTasks()));
    for (const heading of ["## Japanese tasks", "## English tasks", "## Japanese MT-Bench"]) assert.ok(md.includes(heading), heading);
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
