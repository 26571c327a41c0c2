import { test } from "node:test";
import assert from "node:assert/strict";
import { bypassesProxy, proxySettings } from "./proxy.js";

test("proxySettings reads HTTPS_PROXY / HTTP_PROXY (lower case first, blanks skipped) and always keeps loopback direct", () => {
  assert.equal(proxySettings({}), null);
  assert.equal(proxySettings({ HTTP_PROXY: "  ", NO_PROXY: "example.com" }), null);
  assert.deepEqual(proxySettings({ HTTPS_PROXY: "http://proxy:3128" }), {
    httpsProxy: "http://proxy:3128",
    noProxy: ["localhost", "127.0.0.1", "::1"],
  });
  assert.deepEqual(proxySettings({ http_proxy: "http://low:1", HTTP_PROXY: "http://up:2", no_proxy: " .Internal , 10.1.2.3 " }), {
    httpProxy: "http://low:1",
    noProxy: [".internal", "10.1.2.3", "localhost", "127.0.0.1", "::1"],
  });
  // An empty lower-case variable does not hide the upper-case one.
  assert.equal(proxySettings({ http_proxy: "", HTTP_PROXY: "http://up:2" })?.httpProxy, "http://up:2");
});

test("bypassesProxy reads NO_PROXY entries as curl does", () => {
  const bypass = (url: string, ...entries: string[]) => bypassesProxy(new URL(url), entries);
  assert.equal(bypass("https://huggingface.co/x", "*"), true);
  assert.equal(bypass("https://huggingface.co/x", "huggingface.co"), true);
  assert.equal(bypass("https://cdn-lfs.huggingface.co/x", "huggingface.co"), true);
  assert.equal(bypass("https://cdn-lfs.huggingface.co/x", ".huggingface.co"), true);
  assert.equal(bypass("https://nothuggingface.co/x", "huggingface.co"), false);
  assert.equal(bypass("http://Build.Internal:8000/v1", ".internal"), true);
  assert.equal(bypass("http://10.1.2.3:8000/v1", "10.1.2.3"), true);
  assert.equal(bypass("http://10.1.2.30:8000/v1", "10.1.2.3"), false);
  assert.equal(bypass("http://vllm.internal:8000/v1", "vllm.internal:8000"), true);
  assert.equal(bypass("http://vllm.internal:9000/v1", "vllm.internal:8000"), false);
  assert.equal(bypass("https://vllm.internal/v1", "vllm.internal:443"), true);
  assert.equal(bypass("http://[::1]:8000/v1", "::1"), true);
  assert.equal(bypass("http://[fd00::5]:8000/v1", "[fd00::5]:8000"), true);
  assert.equal(bypass("https://huggingface.co/x"), false);
});
