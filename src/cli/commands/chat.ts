import { createInterface } from "node:readline";
import { DEFAULT_SYSTEM_PROMPT, type ChatMessage } from "../../tokenizer/chat-template.js";
import { parseCommandArgs } from "../args.js";
import { info } from "../io.js";
import { loadFromFlags, modelFlags } from "../load.js";
import { samplingFlags, samplingFromFlags } from "../sampling-flags.js";

const HELP = `usage: swallow chat [--model DIR|ORG/NAME] [--system TEXT] [--backend NAME] [sampling flags as in generate]

Interactive chat that keeps the conversation. The default system prompt is the Swallow model card's
「${DEFAULT_SYSTEM_PROMPT}」 (--system "" for none). Type /reset to start over, /exit or Ctrl-D to quit.`;

export async function runChat(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("chat", argv, { ...modelFlags, ...samplingFlags, system: { type: "string" } });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const sampling = samplingFromFlags(values);
  const model = await loadFromFlags(values);
  const params = model.resolveSampling(sampling);
  const system = values.system ?? DEFAULT_SYSTEM_PROMPT;
  const initial: ChatMessage[] = system === "" ? [] : [{ role: "system", content: system }];
  let messages = [...initial];
  const user = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  info("chat: type a message; /reset starts over, /exit quits");
  try {
    user.setPrompt("> ");
    user.prompt();
    for await (const line of user) {
      const text = line.trim();
      if (text === "/exit") break;
      if (text === "/reset") {
        messages = [...initial];
        info("(conversation cleared)");
      } else if (text !== "") {
        messages.push({ role: "user", content: text });
        let answer = "";
        for await (const event of model.generate(model.encodeChat(messages), params)) {
          answer += event.text;
          process.stdout.write(event.text);
        }
        process.stdout.write("\n");
        messages.push({ role: "assistant", content: answer });
      }
      user.prompt();
    }
  } finally {
    user.close();
  }
}
