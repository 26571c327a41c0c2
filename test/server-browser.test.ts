import test from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { App } from "../src/server/app.js";
import { startServer } from "../src/server/node-server.js";
import { FakeEngine, fakeServedModel, tinyTokenizer } from "./support/fake-engine.js";

const CHROMIUM = "/usr/bin/chromium";
const required = process.env.SWALLOW_REQUIRE_BROWSER === "1";
const skip =
  !existsSync(CHROMIUM) && !required
    ? `${CHROMIUM} is not installed (apt-get install chromium; SWALLOW_REQUIRE_BROWSER=1 makes this a failure)`
    : false;

const MARKDOWN_REPLY = "**太字**の答え 🌸\n\n- 一つ目\n- 二つ目";
const LONG_REPLY = "とても長い答えです。".repeat(200);

/** Decodes an 8-bit RGB/RGBA PNG (what Chromium's screenshots are) into rows of pixels. */
function decodePng(png: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], "PNG signature");
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, "bit depth 8");
      channels = { 2: 3, 6: 4 }[data[9]] ?? 0;
      assert.ok(channels > 0, `colour type ${data[9]}`);
      assert.equal(data[12], 0, "not interlaced");
    } else if (type === "IDAT") idat.push(data);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      assert.ok(predictor !== undefined, `filter ${filter}`);
      pixels[y * stride + x] = (line[x] + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

test(
  "chat page in Chromium: streamed Markdown answer, IME Enter does not send, stop cancels, screenshot not blank",
  { skip, timeout: 120_000 },
  async () => {
    const { chromium } = await import("playwright-core");
    const tokenizer = await tinyTokenizer();
    const engine = new FakeEngine(tokenizer, {
      stepDelayMs: 15,
      reply: (r) => (tokenizer.decode(r.promptIds).includes("長く") ? LONG_REPLY : MARKDOWN_REPLY),
    });
    const app = new App({ servedModelName: "swallow-test" });
    app.setModel(fakeServedModel(tokenizer, engine));
    const server = await startServer(app, { port: 0 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
      await page.goto(`${server.url}/`);
      // Browser-side code is passed as strings: this project compiles without the DOM library.
      await page.waitForFunction(`document.getElementById("model")?.textContent === "swallow-test"`);

      // Enter while an IME composition is open (isComposing, or keyCode 229) must not send.
      await page.fill("#input", "にほんご");
      await page.evaluate(`{
      const input = document.getElementById("input");
      input.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true, data: "" }));
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", isComposing: true, bubbles: true, cancelable: true }));
      input.dispatchEvent(new CompositionEvent("compositionend", { bubbles: true, data: "にほんご" }));
      const legacy = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true });
      Object.defineProperty(legacy, "keyCode", { value: 229 });
      input.dispatchEvent(legacy);
    }`);
      await page.waitForTimeout(200);
      assert.equal(engine.submitted.length, 0, "Enter during composition sent the message");
      assert.equal(await page.locator("#messages .msg").count(), 0);
      assert.equal(await page.inputValue("#input"), "にほんご");

      // Settings travel with the request: sampling values and the system prompt.
      await page.click("summary");
      await page.fill("#temperature", "0.3");
      await page.fill("#max-tokens", "50");
      await page.fill("#system", "あなたは猫です。");

      // A plain Enter sends; the answer streams in and is rendered as Markdown.
      await page.focus("#input");
      await page.keyboard.press("Enter");
      const answer = page.locator(".msg.assistant .content").last();
      await page.waitForFunction(`document.querySelector(".msg.assistant strong")?.textContent === "太字"`, null, { timeout: 20_000 });
      await page.waitForFunction(`document.getElementById("send").disabled === false`, null, { timeout: 20_000 });
      assert.equal(engine.submitted.length, 1);
      assert.equal(engine.submitted[0].params.temperature, 0.3);
      assert.equal(engine.submitted[0].params.maxTokens, 50);
      assert.match(
        tokenizer.decode(engine.submitted[0].promptIds),
        /system<\|end_header_id\|>\n\nあなたは猫です。<\|eot_id\|>.*user<\|end_header_id\|>\n\nにほんご/s,
      );
      assert.equal(await answer.locator("li").count(), 2);
      assert.match(await answer.innerText(), /太字の答え 🌸/);
      assert.equal(await page.locator(".msg.user .content").first().innerText(), "にほんご");

      // Stop aborts the fetch mid-stream; the server sees the disconnect and aborts the engine request.
      await page.fill("#max-tokens", "");
      await page.fill("#input", "長く答えて");
      await page.click("#send");
      await page.waitForFunction(`(document.querySelectorAll(".msg.assistant .content")[1]?.textContent ?? "").length > 20`, null, {
        timeout: 20_000,
      });
      await page.click("#stop");
      await page.waitForFunction(`document.getElementById("status")?.textContent === "stopped"`, null, { timeout: 10_000 });
      for (let i = 0; i < 200 && engine.aborted === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(engine.aborted, 1, "the engine request was aborted");
      const partial = await page.locator(".msg.assistant .content").nth(1).innerText();
      assert.ok(partial.length < LONG_REPLY.length, "the answer stopped early");

      const png = await page.screenshot();
      await writeFile(join(tmpdir(), "swallow-chat-page.png"), png);
      const { width, height, channels, pixels } = decodePng(png);
      assert.deepEqual([width, height], [900, 700]);
      let sum = 0;
      let sumSquares = 0;
      const count = width * height;
      for (let i = 0; i < count; i++) {
        const o = i * channels;
        const luma = 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2];
        sum += luma;
        sumSquares += luma * luma;
      }
      const variance = sumSquares / count - (sum / count) ** 2;
      assert.ok(variance > 50, `screenshot looks blank (luma variance ${variance.toFixed(1)})`);
    } finally {
      await browser.close();
      await server.close({ graceMs: 100 });
    }
  },
);
