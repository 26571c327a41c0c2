#!/usr/bin/env python3
"""Write fixtures/eval/python-random-vectors.json from CPython's random.Random.

The TypeScript port in src/eval/random/python-random.ts must reproduce every value.
Integers that may exceed 2**53 are written as decimal strings; floats are written with
repr() (shortest round-trip), so JSON.parse recovers the same IEEE-754 double.

Usage: python3 scripts/eval/make_random_vectors.py [out.json]
"""
import json
import platform
import random
import sys

SEEDS = [
    0, 1, 2, 42, 1234, 2**31, 2**32 - 1, 2**32, 2**32 + 5, 2**64 + 1, 2**100 + 12345,
    -1, -7, -(2**40) - 3, "", "abc", "日本語", b"bytes-seed", b"\x00\x00\x01",
]

SHUFFLE_NS = [0, 1, 2, 3, 10, 100, 1000]
SAMPLE_NK = [
    (10, 3), (100, 5), (100, 6), (1000, 20), (50, 40), (30, 30), (5, 0), (1, 1),
    (21, 5), (22, 5), (26, 6), (27, 6), (85, 6), (86, 6), (85, 20), (86, 20), (300, 60), (100000, 300), (277, 40), (278, 40),
]
RANDRANGE_ARGS = [
    (10,), (1,), (2,), (3, 1000, 7), (1000, 3, -7), (-50, 50), (0, 2**32), (2**32 + 1,), (2**40,), (2**53,),
    (-(2**52), 2**52, 3), (10, 11), (5, 100, 95),
]


def seed_json(s):
    if isinstance(s, int):
        return {"type": "int", "value": str(s)}
    if isinstance(s, str):
        return {"type": "str", "value": s}
    return {"type": "bytes", "hex": s.hex()}


def ints(xs):
    return [str(x) if abs(x) > 2**53 else x for x in xs]


def vectors_for(seed):
    out = {"seed": seed_json(seed)}
    R = lambda: random.Random(seed)  # noqa: E731  (fresh generator per group)

    r = R()
    out["random"] = [r.random() for _ in range(10)]

    r = R()
    out["getrandbits"] = [{"k": k, "value": str(r.getrandbits(k))} for k in (1, 7, 32, 33, 64, 100, 0, 31, 53, 256)]

    r = R()
    out["randrange"] = [{"args": ints(a), "value": ints([r.randrange(*a)])[0]} for a in RANDRANGE_ARGS for _ in range(3)]

    r = R()
    out["randint"] = [r.randint(1, 6) for _ in range(20)]

    r = R()
    out["uniform"] = [r.uniform(-3.5, 10.25) for _ in range(5)]

    shuffles = []
    for n in SHUFFLE_NS:
        r = R()
        xs = list(range(n))
        r.shuffle(xs)
        shuffles.append({"n": n, "result": xs})
    out["shuffle"] = shuffles

    samples = []
    for n, k in SAMPLE_NK:
        r = R()
        samples.append({"n": n, "k": k, "result": r.sample(range(n), k)})
    out["sample"] = samples

    r = R()
    pool = ["a", "b", "c", "d", "e", "f", "g"]
    out["choice"] = {"pool": pool, "result": [r.choice(pool) for _ in range(20)]}

    r = R()
    out["choices"] = {
        "pool": pool,
        "weights": [1, 2, 3, 0, 5, 0.5, 7],
        "unweighted": r.choices(pool, k=10),
        "weighted": r.choices(pool, [1, 2, 3, 0, 5, 0.5, 7], k=10),
        "cum_weighted": r.choices(pool, cum_weights=[1, 3, 6, 6, 11, 11.5, 18.5], k=10),
    }

    # One long mixed stream, as the eval harnesses use a single generator for many calls.
    r = R()
    mixed = []
    docs = list(range(40))
    r.shuffle(docs)
    mixed.append(docs)
    for d in docs[:10]:
        mixed.append(r.sample(range(200), 4))
        mixed.append(r.random())
        mixed.append(r.randrange(1000))
    out["mixed"] = mixed
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "fixtures/eval/python-random-vectors.json"
    data = {
        "generator": "scripts/eval/make_random_vectors.py",
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "vectors": [vectors_for(s) for s in SEEDS],
        # sample(range(n), k) for every n < 120 and several k, one fresh Random(42) each: pins the
        # pool/set strategy switch (setsize) at every boundary in that range.
        "sample_sweep": [
            {"n": n, "k": k, "result": random.Random(42).sample(range(n), k)}
            for n in range(120)
            for k in sorted({0, 1, 5, 6, 7, 10, 21, 22, 28, 29, n // 2, n} & set(range(n + 1)))
        ],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({len(SEEDS)} seeds, {data['implementation']} {data['python']})")


if __name__ == "__main__":
    main()
