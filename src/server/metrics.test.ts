import test from "node:test";
import assert from "node:assert/strict";
import { Histogram, ServerMetrics } from "./metrics.js";
import { isAuthorized } from "./auth.js";

test("histogram buckets are cumulative with le bounds inclusive, +Inf equals the count", () => {
  const h = new Histogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 3]) h.observe(v);
  assert.deepEqual(h.lines("x", 'm="a"'), [
    'x_bucket{m="a",le="0.1"} 2',
    'x_bucket{m="a",le="1"} 3',
    'x_bucket{m="a",le="+Inf"} 4',
    'x_sum{m="a"} 3.65',
    'x_count{m="a"} 4',
  ]);
});

test("time per output token is the mean gap after the first token; one-token answers add no TPOT sample", () => {
  const m = new ServerMetrics();
  m.observeChoice(0.2, 1.2, 11);
  m.observeChoice(0.3, 0.3, 1);
  const text = m.render('a"b', null);
  assert.match(text, /swallow:time_per_output_token_seconds_sum\{model_name="a\\"b"\} 0\.1\n/);
  assert.match(text, /swallow:time_per_output_token_seconds_count\{model_name="a\\"b"\} 1\n/);
  assert.match(text, /swallow:time_to_first_token_seconds_count\{model_name="a\\"b"\} 2\n/);
});

test("API key check: only the exact bearer key passes", () => {
  assert.equal(isAuthorized("Bearer k1", "k1"), true);
  assert.equal(isAuthorized("bearer  k1 ", "k1"), true);
  assert.equal(isAuthorized("Bearer k12", "k1"), false);
  assert.equal(isAuthorized("Bearer k", "k1"), false);
  assert.equal(isAuthorized("k1", "k1"), false);
  assert.equal(isAuthorized(undefined, "k1"), false);
  assert.equal(isAuthorized("Basic k1", "k1"), false);
});
