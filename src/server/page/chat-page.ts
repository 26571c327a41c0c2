import { renderMarkdown } from "./markdown.js";

/** Styles of the chat page: a single column, readable in light and dark schemes. */
const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1b1d21; --user: #dbeafe; --bot: #ffffff; --line: #d0d4da; --accent: #2563eb; }
@media (prefers-color-scheme: dark) { :root { --bg: #16181d; --fg: #e6e8eb; --user: #1e3a5f; --bot: #22252b; --line: #3a3f47; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.6 system-ui, "Hiragino Sans", "Noto Sans JP", sans-serif; background: var(--bg); color: var(--fg); }
main { max-width: 860px; margin: 0 auto; padding: 16px; display: flex; flex-direction: column; height: 100vh; }
header { display: flex; align-items: baseline; gap: 12px; }
h1 { font-size: 18px; margin: 0 0 8px; }
#model { opacity: 0.7; font-size: 13px; }
details { border: 1px solid var(--line); border-radius: 8px; padding: 6px 10px; margin-bottom: 8px; }
details label { display: inline-flex; flex-direction: column; margin: 4px 12px 4px 0; font-size: 13px; }
details textarea { width: 100%; }
#messages { flex: 1; overflow-y: auto; display: flex; flex-direction: column; gap: 10px; padding: 8px 0; }
.msg { border-radius: 10px; padding: 8px 12px; max-width: 100%; overflow-wrap: anywhere; border: 1px solid var(--line); }
.msg.user { background: var(--user); align-self: flex-end; white-space: pre-wrap; }
.msg.assistant { background: var(--bot); }
.msg.error { border-color: #dc2626; color: #dc2626; }
.msg pre { background: rgba(127,127,127,0.15); padding: 8px; border-radius: 6px; overflow-x: auto; }
.msg p { margin: 0.3em 0; }
form { display: flex; gap: 8px; align-items: flex-end; }
#input { flex: 1; min-height: 48px; max-height: 200px; resize: vertical; font: inherit; padding: 8px; border-radius: 8px; border: 1px solid var(--line); background: var(--bot); color: var(--fg); }
button { font: inherit; padding: 8px 14px; border-radius: 8px; border: 0; background: var(--accent); color: white; cursor: pointer; }
button:disabled { opacity: 0.4; cursor: default; }
#stop { background: #dc2626; }
#status { font-size: 12px; opacity: 0.7; min-height: 1.2em; }
`;

/** The page's script: OpenAI streaming chat over fetch, IME-safe Enter, a stop button, settings. */
const SCRIPT = `
const renderMarkdown = ${renderMarkdown.toString()};
const $ = (id) => document.getElementById(id);
const history = [];
let controller = null;
let composing = false;
let modelName = "";

fetch("/v1/models", { headers: authHeaders() }).then((r) => r.json()).then((body) => {
  modelName = body.data?.[0]?.id ?? "";
  $("model").textContent = modelName;
}).catch(() => {});

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const content = document.createElement("div");
  content.className = "content";
  if (role === "user") content.textContent = text; else content.innerHTML = renderMarkdown(text);
  div.appendChild(content);
  $("messages").appendChild(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return div;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

async function send() {
  const text = $("input").value;
  if (!text.trim() || controller) return;
  $("input").value = "";
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  const content = bubble.querySelector(".content");
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);
  const body = { model: modelName || undefined, messages, stream: true };
  const number = (id) => { const v = $(id).value.trim(); return v === "" ? undefined : Number(v); };
  for (const [id, key] of [["temperature", "temperature"], ["top-p", "top_p"], ["max-tokens", "max_tokens"]]) {
    const value = number(id);
    if (value !== undefined) body[key] = value;
  }
  controller = new AbortController();
  setBusy(true);
  $("status").textContent = "generating…";
  let answer = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!response.ok) {
      const error = await response.json().catch(() => ({}));
      throw new Error(error.error?.message ?? response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const delta = chunk.choices?.[0]?.delta?.content;
        if (delta) {
          answer += delta;
          content.innerHTML = renderMarkdown(answer);
          $("messages").scrollTop = $("messages").scrollHeight;
        }
      }
    }
    $("status").textContent = "";
  } catch (error) {
    if (error.name === "AbortError") {
      $("status").textContent = "stopped";
      bubble.dataset.stopped = "true";
    } else {
      bubble.classList.add("error");
      content.textContent = String(error.message ?? error);
      $("status").textContent = "error";
    }
  } finally {
    if (answer) history.push({ role: "assistant", content: answer });
    controller = null;
    setBusy(false);
  }
}

$("input").addEventListener("compositionstart", () => { composing = true; });
$("input").addEventListener("compositionend", () => { composing = false; });
$("input").addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey) return;
  // Enter that confirms an IME conversion (Japanese input) must not send: isComposing, or keyCode 229 in Safari/Chrome.
  if (event.isComposing || event.keyCode === 229 || composing) return;
  event.preventDefault();
  send();
});
$("chat").addEventListener("submit", (event) => { event.preventDefault(); send(); });
$("stop").addEventListener("click", () => controller?.abort());
`;

/** The chat page served at `/`: one self-contained HTML document (works from dist/ with no asset files). */
export const CHAT_PAGE_HTML = `<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Swallow chat</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header><h1>Swallow chat</h1><span id="model"></span></header>
<details>
<summary>Settings</summary>
<label>System prompt<textarea id="system" rows="2">あなたは誠実で優秀な日本人のアシスタントです。</textarea></label>
<label>Temperature<input id="temperature" type="number" step="0.1" min="0" placeholder="model default"></label>
<label>Top-p<input id="top-p" type="number" step="0.05" min="0" max="1" placeholder="model default"></label>
<label>Max tokens<input id="max-tokens" type="number" min="1" placeholder="until stop"></label>
<label>API key<input id="api-key" type="password" autocomplete="off"></label>
</details>
<div id="messages" aria-live="polite"></div>
<div id="status"></div>
<form id="chat">
<textarea id="input" placeholder="メッセージを入力 (Enter で送信、Shift+Enter で改行)"></textarea>
<button id="send" type="submit">Send</button>
<button id="stop" type="button" disabled>Stop</button>
</form>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
