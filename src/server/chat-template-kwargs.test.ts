import { test } from "node:test";
import assert from "node:assert/strict";
import { chatTemplateVariables } from "./chat-template-kwargs.js";
import { HttpError } from "./http-error.js";

test("chatTemplateVariables passes the user's variables on; server-owned and vLLM's unexpected keys are 400s", () => {
  assert.equal(chatTemplateVariables(undefined), undefined);
  assert.equal(chatTemplateVariables(null), undefined);
  assert.equal(chatTemplateVariables({}), undefined);
  const kwargs = { date_string: "01 Jan 2030", flags: { a: 1 } };
  assert.deepEqual(chatTemplateVariables(kwargs), kwargs);
  const rejects = (body: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => chatTemplateVariables(body),
      (e: unknown) => e instanceof HttpError && e.status === 400 && e.param === "chat_template_kwargs" && pattern.test(e.message),
      JSON.stringify(body),
    );
  rejects({ chat_template: "x", tokenize: true }, /^Found unexpected chat template kwargs from request: \{'chat_template', 'tokenize'\}/);
  for (const key of ["messages", "tools", "add_generation_prompt", "continue_final_message", "documents"]) {
    rejects({ [key]: 1, date_string: "x" }, new RegExp(`cannot set '${key}'`));
  }
});

test("chatTemplateVariables adds the request's documents after the user's kwargs", () => {
  const documents = [{ title: "a", text: "b" }];
  assert.deepEqual(chatTemplateVariables(undefined, { documents }), { documents });
  assert.deepEqual(chatTemplateVariables({}, { documents }), { documents });
  assert.deepEqual(chatTemplateVariables({ date_string: "x" }, { documents }), { date_string: "x", documents });
  assert.equal(chatTemplateVariables(null, { documents: null }), undefined);
});
