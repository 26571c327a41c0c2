#!/usr/bin/env python3
"""Golden vectors for the Japanese MT-Bench port (src/eval/tasks/mtbench/), made by FastChat's own code.

The strings and numbers in fixtures/eval/golden/jmtbench.json come from the real FastChat modules of Swallow's
fork (swallow-llm/swallow-evaluation @ 3762f0d9db681a0b521cb06cc2f9ce07ab6ec341, `fastchat/fastchat/`), imported
from a checkout, not from a re-implementation:

- answer prompts and post-processed answers: `llm_judge/gen_model_answer.py::get_model_answers` driven by a fake
  model/tokenizer (canned outputs; the real code builds the llama-3 prompt, picks the temperature from
  `temperature_config`, cuts at stop ids, strips special tokens and whitespace) and `conversation.py`'s "llama-3";
- the chat-template variant's messages: `Conversation.to_openai_api_messages()` of the same "llama-3" conversation;
- judge messages and ratings: `llm_judge/gen_judgment.py::make_judge_single/make_match_single` and
  `llm_judge/common.py::play_a_match_single` with `chat_completion_openai` replaced by a recorder returning canned text;
- aggregation: `llm_judge/show_result.py::calculate_averages` (numpy), rows grouped as `display_result_single` does.

Third-party modules that these files import but these code paths never use (torch, openai, anthropic, pandas, ...)
are replaced by stubs; `fastchat.model.get_conversation_template` is stubbed to the adapter choice the real
model_adapter.py makes for these names ("llama-3" for a path containing llama-3, "gpt-mini" for gpt-4o-2024-08-06).

Usage (numpy needed; any Python 3.10+):
  git -C swallow-evaluation archive 3762f0d fastchat/fastchat | tar -x -C /tmp/fc
  python3 scripts/eval/make_mtbench_golden.py --fastchat /tmp/fc/fastchat
"""

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import types

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(REPO, "fixtures", "eval", "data", "japanese-mt-bench-3762f0d")
OUT = os.path.join(REPO, "fixtures", "eval", "golden", "jmtbench.json")
JUDGE_MODEL = "gpt-4o-2024-08-06"
MODEL_PATH = "tokyotech-llm/Llama-3.1-Swallow-70B-Instruct-v0.3"
NUM_CHOICES = 5
# special_tokens_map.json of the Swallow tokenizer (../shared/data/llama3-tokenizer/special_tokens_map.json).
SPECIAL_TOKENS_MAP = {
    "bos_token": "<|begin_of_text|>",
    "eos_token": "<|eot_id|>",
    "pad_token": "<|finetune_right_pad_id|>",
}
EOT_ID = 128009


def canned_output(qid, choice, turn):
    """What the fake model decodes to before <|eot_id|>: exercises special-token removal, strip and braces."""
    if qid == 51 and choice == 3 and turn == 0:
        # Cleans to "", so FastChat's CALM2 prompt drops the <|eot_id|> after this empty assistant turn.
        return " <|begin_of_text|>\n "
    base = [
        f"問{qid}への回答{choice + 1}-{turn + 1}です。",
        f"  \n回答 {{question}} と $& と $1 を含む（{qid}/{choice}/{turn}）\n\n",
        f"<|begin_of_text|>答え：{qid * 10 + turn}<|finetune_right_pad_id|>\u3000",
        f"\u3000コード:\n```python\nprint({{'a': {choice}}})\n```\n\x1f",
        f"\ufeff先頭にBOM（strip されない）{turn}",
    ]
    return base[(qid + choice + turn) % len(base)]


JUDGMENTS = [
    "回答は正確で丁寧です。\n\nRating: [[7]]",
    "評価: [[8.5]]",
    "参考文献[1]を踏まえ、評価は [[9]] です。",
    "形式を守っていませんが評価は [6] とします。",
    "評価できません。",
    "Rating: [[10]]",
    "Rating: [[3.]]",
]

RATING_CASES = [
    "Rating: [[5]]",
    "[[10]]",
    "[[0]]",
    "[[7.25]]",
    "[[7.]]",
    "[[007.5]]",
    "[[00]]",
    "[[07]]",
    "[[15]]",
    "[[ 8 ]]",
    "[[8]",
    "[8]]",
    "[[-3]]",
    "[[rating]] と書くべきところ [[6]]",
    "前半 [2] 後半 [[9]]",
    "[3] と [4]",
    "[[4]] のち [[9]]",
    "[[1.2.3]]",
    "[[\uff17]]",
    "[[\u0663]]",
    "Rating: 8",
    "",
    "$ERROR$",
    "[[８]]点",
    "[[99999999999999999999]]",
]

# Hand-made score rows for the aggregation cases: (question_id, turn, 5 ratings), -1 = unparsed judgment.
AGG_CASES = {
    "no_failures": [(1, 1, [8, 7, 9, 8, 8]), (1, 2, [6, 6, 5, 7, 6]), (2, 1, [10, 10, 9, 10, 10]), (2, 2, [4, 5, 4, 4, 3])],
    "with_failures": [(31, 1, [8, -1, 9, 8, 2]), (31, 2, [-1, 7, 5, 7, 6]), (32, 1, [3, 3, -1, 3, 3]), (32, 2, [9.5, 4, 4, 1, 10])],
    "one_column_all_failed": [(71, 1, [8, -1, 9, 8, 2]), (72, 1, [1, -1, 2, 3, 4])],
}


def install_stubs(fastchat_dir):
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class InferenceMode:
        def __call__(self, fn):
            return fn

    state = {"seed": None}

    def manual_seed(seed):
        state["seed"] = seed

    module("torch", inference_mode=lambda: InferenceMode(), manual_seed=manual_seed, as_tensor=lambda x: FakeTensor(x))
    module("shortuuid", uuid=lambda: "golden")
    module("tqdm", tqdm=lambda it, **_: it)
    module("openai")
    module("anthropic")
    module("dotenv", load_dotenv=lambda *a, **k: None)
    module("pandas")
    module("ray")
    sys.path.insert(0, os.path.dirname(fastchat_dir))
    conversation = importlib.import_module("fastchat.conversation")

    def get_conversation_template(model_path):
        if "llama-3" in model_path.lower():
            return conversation.get_conv_template("llama-3")
        if "gpt-4o-2024-08-06" in model_path:
            return conversation.get_conv_template("gpt-mini")
        raise ValueError(model_path)

    module("fastchat.model", get_conversation_template=get_conversation_template, load_model=None)
    module(
        "fastchat.model.model_adapter",
        get_conversation_template=get_conversation_template,
        OPENAI_MODEL_LIST=(JUDGE_MODEL,),
        ANTHROPIC_MODEL_LIST=(),
    )
    module("fastchat.utils", set_seed=None, str_to_torch_dtype=None)
    return conversation, state


class FakeTensor:
    def __init__(self, value):
        self.value = value

    def cuda(self):
        return self.value


class FakeTokenizer:
    """Prompt ids are placeholders (only their count matters); each canned output is one id in `pieces`."""

    def __init__(self):
        self.pieces = {EOT_ID: "<|eot_id|>", 7: "JUNK-AFTER-EOT"}
        self.special_tokens_map = dict(SPECIAL_TOKENS_MAP)

    def __call__(self, prompts):
        return types.SimpleNamespace(input_ids=[[1] * len(prompts[0])])

    def decode(self, ids, spaces_between_special_tokens=True):
        return "".join(self.pieces[i] for i in ids)


class FakeModel:
    def __init__(self, tokenizer, seed_state, questions):
        self.tokenizer = tokenizer
        self.seed_state = seed_state
        self.config = types.SimpleNamespace(is_encoder_decoder=False)
        self.calls = []
        self.questions = questions
        self.order = self._call_order()

    def _call_order(self):
        for q in self.questions:
            for choice in range(NUM_CHOICES):
                for turn in range(len(q["turns"])):
                    yield q["question_id"], choice, turn

    def generate(self, input_ids, do_sample, temperature, max_new_tokens):
        qid, choice, turn = next(self.order)
        piece_id = 1_000_000 + len(self.calls)
        text = canned_output(qid, choice, turn)
        self.tokenizer.pieces[piece_id] = text
        self.calls.append(
            {
                "questionId": qid,
                "choice": choice,
                "turn": turn,
                "seed": self.seed_state["seed"],
                "doSample": do_sample,
                "temperature": temperature,
                "maxNewTokens": max_new_tokens,
                "rawOutput": text,
            }
        )
        return [input_ids[0] + [piece_id, EOT_ID, 7]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fastchat", required=True, help="directory of the `fastchat` package (swallow-evaluation@3762f0d)")
    args = parser.parse_args()
    conversation, seed_state = install_stubs(os.path.abspath(args.fastchat))
    common = importlib.import_module("fastchat.llm_judge.common")
    gen_model_answer = importlib.import_module("fastchat.llm_judge.gen_model_answer")
    gen_judgment = importlib.import_module("fastchat.llm_judge.gen_judgment")
    show_result = importlib.import_module("fastchat.llm_judge.show_result")
    custom_utils = importlib.import_module("fastchat.llm_judge.custom_utils")

    questions = common.load_questions(os.path.join(DATA_DIR, "question.jsonl"), None, None)
    ref_answers = common.load_model_answers(os.path.join(DATA_DIR, "reference_answer"))
    judge_prompts = common.load_judge_prompts(os.path.join(DATA_DIR, "judge_prompts.jsonl"))

    # ---- answers: the real get_model_answers with a fake model ----
    tokenizer = FakeTokenizer()
    model = FakeModel(tokenizer, seed_state, questions)
    gen_model_answer.load_model = lambda *a, **k: (model, tokenizer)
    tmp = tempfile.mkdtemp()
    answer_file = os.path.join(tmp, "model_answer", MODEL_PATH.replace("/", "_") + ".jsonl")
    gen_model_answer.get_model_answers(MODEL_PATH, MODEL_PATH, questions, answer_file, 1024, NUM_CHOICES, 1, None, None, None)
    model_answers = common.load_model_answers(os.path.dirname(answer_file))
    model_name = MODEL_PATH.replace("/", "_")
    answers_out = []
    for q in questions:
        ans = model_answers[model_name][q["question_id"]]
        choices = []
        for choice in ans["choices"]:
            calls = [c for c in model.calls if c["questionId"] == q["question_id"] and c["choice"] == choice["index"]]
            conv = conversation.get_conv_template("llama-3")
            chat_messages = []
            for t, user in enumerate(q["turns"]):
                conv.append_message(conv.roles[0], user)
                conv.append_message(conv.roles[1], None)
                chat_messages.append(conv.to_openai_api_messages())
                conv.update_last_message(choice["turns"][t])
            choices.append(
                {
                    "index": choice["index"],
                    "prompts": choice["prompts"],
                    "chatMessages": chat_messages,
                    "generation": [{k: c[k] for k in ("seed", "doSample", "temperature", "maxNewTokens")} for c in calls],
                    "rawOutputs": [c["rawOutput"] for c in calls],
                    "turns": choice["turns"],
                }
            )
        answers_out.append({"questionId": q["question_id"], "category": q["category"], "choices": choices})

    # ---- judgments: the real match construction and play_a_match_single with a recording judge ----
    recorded = []

    def fake_chat_completion_openai(model_name_, conv, temperature, max_tokens, api_dict=None):
        text = JUDGMENTS[len(recorded) % len(JUDGMENTS)]
        recorded.append(
            {"model": model_name_, "messages": conv.to_openai_api_messages(), "temperature": temperature, "maxTokens": max_tokens}
        )
        return text

    common.chat_completion_openai = fake_chat_completion_openai
    judges = gen_judgment.make_judge_single(JUDGE_MODEL, judge_prompts)
    q_math = [q for q in questions if q["category"] in common.NEED_REF_CATS]
    q_default = [q for q in questions if q["category"] not in common.NEED_REF_CATS]
    make = gen_judgment.make_match_single
    matches = []
    matches += make(q_default, [model_name], model_answers, judges["default"])
    matches += make(q_math, [model_name], model_answers, judges["math"], None, ref_answers)
    matches += make(q_default, [model_name], model_answers, judges["default-mt"], None, multi_turn=True)
    matches += make(q_math, [model_name], model_answers, judges["math-mt"], None, ref_answers, multi_turn=True)
    judgments_out = []
    for match in matches:
        first = len(recorded)
        result = common.play_a_match_single(match, output_file=None)
        calls = recorded[first:]
        judgments_out.append(
            {
                "questionId": result["question_id"],
                "turn": result["turn"],
                "judgePrompt": result["judge"][1],
                "calls": [
                    {"messages": c["messages"], "temperature": c["temperature"], "maxTokens": c["maxTokens"], "judgment": j}
                    for c, j in zip(calls, result["judgment"])
                ],
                "scores": result["score"],
            }
        )
    judgments_out.sort(key=lambda j: (j["questionId"], j["turn"]))

    # ---- rating parse: run_judge_single on one canned judgment each ----
    rating_cases = []
    one_q = questions[0]
    one_answer = dict(model_answers[model_name][one_q["question_id"]])
    one_answer["choices"] = one_answer["choices"][:1]
    judge = common.Judge(JUDGE_MODEL, judge_prompts["single-v1"])
    for text in RATING_CASES:
        common.chat_completion_openai = lambda *a, _t=text, **k: _t
        try:
            ratings, _, _ = common.run_judge_single(one_q, one_answer, judge, None)
            rating_cases.append({"judgment": text, "rating": ratings[0], "pythonType": type(ratings[0]).__name__})
        except Exception as e:  # FastChat lets these escape and the judging run stops
            rating_cases.append({"judgment": text, "error": type(e).__name__})

    # ---- aggregation: calculate_averages on rows grouped as display_result_single does ----
    def summarize(rows):
        by_cat = {}
        for qid, turn, scores in rows:
            by_cat.setdefault(custom_utils.CATEGORIES[(qid - 81) // 10], []).append((turn, scores))
        groups = {"overall": [(t, s) for _, t, s in rows], **by_cat}
        out = {}
        for name, group in groups.items():
            entry = {}
            for label, wanted in (("first_turn", {1}), ("second_turn", {2}), ("average", {1, 2})):
                picked = [s for t, s in group if t in wanted]
                if not picked:
                    continue
                mu, sigma = show_result.calculate_averages(picked)
                entry[label] = {"score": jnum(mu), "stdev": jnum(sigma)}
            out[name] = entry
        return out

    fixture_rows = [(j["questionId"], j["turn"], j["scores"]) for j in judgments_out]
    aggregation_cases = [{"name": name, "rows": [list(r) for r in rows], "summary": summarize(rows)} for name, rows in AGG_CASES.items()]

    # numpy's float64 sums (pairwise summation above 8 elements), which the mean and stdev of many runs go through.
    np = __import__("numpy")
    sum_cases = []
    for n in (5, 8, 13, 100, 300):
        values = [((k * 7919) % 1000) / 7.0 + 0.1 for k in range(n)]
        sum_cases.append({"values": values, "sum": float(np.sum(np.array(values)))})

    # custom_utils.calculate_japanese_character_ratio (the card-time version, no markdown stripping) on the fixture
    # answers, plus one hand-made answer set with characters outside the BMP and at the range edges.
    answer_records = [model_answers[model_name][q["question_id"]] for q in questions]
    edge_records = [
        {"question_id": 75, "choices": [{"turns": ["𠮷野家の牛丼🍚", "ｱｲｳ～\u3036\u3037\u30fb\u309f\u30a0", ""]}]},
        {"question_id": 5, "choices": [{"turns": ["print('こんにちは')"]}, {"turns": ["\uff01\uff5e\uff5f\u4e00\u9fff\ua000"]}]},
    ]
    ja_ratio_cases = [
        {"answers": answer_records, "ratios": custom_utils.calculate_japanese_character_ratio(answer_records)},
        {"answers": edge_records, "ratios": custom_utils.calculate_japanese_character_ratio(edge_records)},
    ]

    golden = {
        "generatedBy": "scripts/eval/make_mtbench_golden.py",
        "fastchat": "swallow-llm/swallow-evaluation@3762f0d9db681a0b521cb06cc2f9ce07ab6ec341 fastchat/fastchat (real modules)",
        "python": platform.python_version(),
        "numpy": __import__("numpy").__version__,
        "modelPath": MODEL_PATH,
        "judgeModel": JUDGE_MODEL,
        "specialTokens": list(SPECIAL_TOKENS_MAP.values()),
        "temperatureConfig": common.temperature_config,
        "needRefCats": common.NEED_REF_CATS,
        "categories": custom_utils.CATEGORIES,
        "answers": answers_out,
        "judgments": judgments_out,
        "fixtureSummary": summarize(fixture_rows),
        "ratingCases": rating_cases,
        "aggregationCases": aggregation_cases,
        "numpySumCases": sum_cases,
        "japaneseCharRatioCases": [
            {"answers": [{"questionId": r["question_id"], "turns": [c["turns"] for c in r["choices"]]} for r in case["answers"]], "ratios": case["ratios"]}
            for case in ja_ratio_cases
        ],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(answers_out)} questions, {len(recorded)} judge calls, {len(rating_cases)} rating cases")


def jnum(x):
    """JSON has no NaN: numpy's nan (0/0 runs, ddof=1 of one run) is written as the string "nan"."""
    x = float(x)
    return "nan" if x != x else x


if __name__ == "__main__":
    main()
