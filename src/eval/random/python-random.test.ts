import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fixturesDir } from "../../../test/support/paths.js";
import path from "node:path";

import { PythonRandom, type PythonSeed } from "./python-random.js";
import { sha512 } from "./sha512.js";

const fixture = JSON.parse(readFileSync(path.join(fixturesDir, "eval/python-random-vectors.json"), "utf8"));

type Int = number | string; // large ints are decimal strings in the fixture

interface SeedJson {
  type: "int" | "str" | "bytes";
  value?: string;
  hex?: string;
}

function toSeed(s: SeedJson): PythonSeed {
  if (s.type === "int") return BigInt(s.value!);
  if (s.type === "str") return s.value!;
  return Uint8Array.from(Buffer.from(s.hex!, "hex"));
}

const big = (x: Int): bigint => BigInt(x);
const sameFloat = (actual: number, expected: number, msg: string) =>
  assert.ok(Object.is(actual, expected), `${msg}: got ${actual}, want ${expected}`);

test("fixture was produced by CPython", () => {
  assert.equal(fixture.implementation, "CPython");
  assert.match(fixture.python, /^3\./);
  assert.ok(fixture.vectors.length >= 10);
});

test("pure-TS sha512 equals node:crypto", () => {
  for (const len of [0, 1, 55, 111, 112, 127, 128, 129, 255, 256, 1000]) {
    const data = Uint8Array.from({ length: len }, (_, i) => (i * 131 + len) & 0xff);
    assert.deepEqual(Buffer.from(sha512(data)).toString("hex"), createHash("sha512").update(data).digest("hex"), `len ${len}`);
  }
});

for (const v of fixture.vectors) {
  const seed = toSeed(v.seed);
  const label = `seed ${v.seed.type}:${v.seed.value ?? v.seed.hex}`;
  const R = () => new PythonRandom(seed);

  test(`${label}`, async (t) => {
    await t.test("random()", () => {
      const r = R();
      v.random.forEach((x: number, i: number) => sameFloat(r.random(), x, `random #${i}`));
    });

    await t.test("getrandbits", () => {
      const r = R();
      for (const { k, value } of v.getrandbits) {
        const got = r.getrandbits(k);
        assert.equal(typeof got, k > 32 ? "bigint" : "number", `type for k=${k}`);
        assert.equal(BigInt(got), BigInt(value), `getrandbits(${k})`);
      }
    });

    await t.test("randrange (number and bigint APIs)", () => {
      const r = R();
      const rb = R();
      for (const { args, value } of v.randrange as { args: Int[]; value: Int }[]) {
        const bargs = args.map(big);
        const gotBig = rb.randrange(bargs[0], bargs[1], bargs[2]);
        assert.equal(gotBig, big(value), `randrange big (${args})`);
        if (args.every((a) => Number.isSafeInteger(a)) && Number.isSafeInteger(value)) {
          const [a, b, c] = args as number[];
          assert.equal(r.randrange(a, b, c), value, `randrange (${args})`);
        } else {
          r.randrange(bargs[0], bargs[1], bargs[2]);
        }
      }
    });

    await t.test("randint(1, 6)", () => {
      const r = R();
      assert.deepEqual(
        v.randint.map(() => r.randint(1, 6)),
        v.randint,
      );
    });

    await t.test("uniform(-3.5, 10.25)", () => {
      const r = R();
      v.uniform.forEach((x: number, i: number) => sameFloat(r.uniform(-3.5, 10.25), x, `uniform #${i}`));
    });

    await t.test("shuffle", () => {
      for (const { n, result } of v.shuffle) {
        const xs = Array.from({ length: n }, (_, i) => i);
        assert.equal(R().shuffle(xs), xs);
        assert.deepEqual(xs, result, `shuffle n=${n}`);
      }
    });

    await t.test("sample", () => {
      for (const { n, k, result } of v.sample) {
        assert.deepEqual(R().sampleIndices(n, k), result, `sample(range(${n}), ${k})`);
        if (n <= 1000) {
          const pop = Array.from({ length: n }, (_, i) => `x${i}`);
          assert.deepEqual(
            R().sample(pop, k),
            result.map((i: number) => `x${i}`),
            `sample(list, ${k})`,
          );
        }
      }
    });

    await t.test("choice", () => {
      const r = R();
      const { pool, result } = v.choice;
      assert.deepEqual(
        result.map(() => r.choice(pool)),
        result,
      );
    });

    await t.test("choices", () => {
      const r = R();
      const c = v.choices;
      assert.deepEqual(r.choices(c.pool, { k: 10 }), c.unweighted);
      assert.deepEqual(r.choices(c.pool, { weights: c.weights, k: 10 }), c.weighted);
      assert.deepEqual(r.choices(c.pool, { cumWeights: [1, 3, 6, 6, 11, 11.5, 18.5], k: 10 }), c.cum_weighted);
    });

    await t.test("mixed stream on one generator", () => {
      const r = R();
      const got: unknown[] = [];
      const docs = r.shuffle(Array.from({ length: 40 }, (_, i) => i));
      got.push(docs);
      for (let i = 0; i < 10; i++) {
        got.push(r.sampleIndices(200, 4));
        got.push(r.random());
        got.push(r.randrange(1000));
      }
      assert.deepEqual(got, v.mixed);
    });
  });
}

test("sample sweep over (n, k) with Random(42)", () => {
  assert.ok(fixture.sample_sweep.length > 500);
  for (const { n, k, result } of fixture.sample_sweep) {
    assert.deepEqual(new PythonRandom(42).sampleIndices(n, k), result, `sample(range(${n}), ${k})`);
  }
});

test("seed equivalences and errors", () => {
  const a = new PythonRandom(42).random();
  assert.equal(new PythonRandom(42n).random(), a);
  assert.equal(new PythonRandom(-42).random(), a, "negative seeds use the absolute value");
  assert.equal(new PythonRandom("abc").random(), new PythonRandom(new TextEncoder().encode("abc")).random());
  const r = new PythonRandom(1);
  r.seed(42);
  assert.equal(r.random(), a, "reseeding restarts the stream");
  assert.throws(() => new PythonRandom(1.5));
  assert.throws(() => new PythonRandom(2 ** 60));
  assert.throws(() => r.choice([]));
  assert.throws(() => r.sample([1, 2], 3));
  assert.throws(() => r.randrange(0));
  assert.throws(() => r.randrange(5, 5));
  assert.throws(() => r.randrange(0, 10, 0));
  let calls = 0;
  const hashed = new PythonRandom("x", {
    sha512: (d) => {
      calls++;
      return sha512(d);
    },
  });
  assert.equal(calls, 1);
  assert.equal(hashed.random(), new PythonRandom("x").random());
});
