import test from "node:test";
import assert from "node:assert/strict";
import { renderMarkdown } from "./markdown.js";

test("markdown: HTML in the text is escaped everywhere (text, code, link labels)", () => {
  assert.equal(renderMarkdown("<script>alert(1)</script>"), "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
  assert.equal(renderMarkdown("`<b>`"), "<p><code>&lt;b&gt;</code></p>");
  assert.equal(renderMarkdown("```\n<img src=x onerror=alert(1)>\n```"), "<pre><code>&lt;img src=x onerror=alert(1)&gt;</code></pre>");
  assert.equal(
    renderMarkdown('[<i>x</i>](https://example.com/?a=1&b="2")'),
    '<p><a href="https://example.com/?a=1&amp;b=&quot;2&quot;" target="_blank" rel="noopener noreferrer">&lt;i&gt;x&lt;/i&gt;</a></p>',
  );
});

test("markdown: only http(s) links become anchors", () => {
  assert.equal(renderMarkdown("[click](javascript:alert(1))"), "<p>[click](javascript:alert(1))</p>");
  assert.equal(renderMarkdown("[data](data:text/html,hi)"), "<p>[data](data:text/html,hi)</p>");
});

test("markdown: headings, lists, quotes, emphasis and Japanese paragraphs", () => {
  const html = renderMarkdown("# 見出し\n\n**太字**と*斜体*と`コード`\n次の行\n\n- りんご\n- みかん\n\n1. 一\n2. 二\n\n> 引用");
  assert.equal(
    html,
    [
      "<h1>見出し</h1>",
      "<p><strong>太字</strong>と<em>斜体</em>と<code>コード</code><br>次の行</p>",
      "<ul><li>りんご</li><li>みかん</li></ul>",
      "<ol><li>一</li><li>二</li></ol>",
      "<blockquote>引用</blockquote>",
    ].join("\n"),
  );
});

test("markdown: an unterminated code fence (mid-stream) still renders as code, with its language", () => {
  assert.equal(
    renderMarkdown("見て:\n```python\nprint('こんにちは')"),
    `<p>見て:</p>\n<pre><code class="language-python">print(&#39;こんにちは&#39;)</code></pre>`,
  );
});

test("markdown: the function is self-contained, so the page can embed its source", () => {
  const rebuilt = new Function(`return (${renderMarkdown.toString()})`)() as typeof renderMarkdown;
  assert.equal(rebuilt("**a** <b>"), renderMarkdown("**a** <b>"));
});
