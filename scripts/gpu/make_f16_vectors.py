"""Reference vectors for the tensor-core matmul's f16 conversions (src/gpu/webgpu/kernels/tensor/plan.ts).

numpy's float32 -> float16 cast (IEEE round to nearest even, overflow to inf) is the reference for
`roundToF16` and `f32FitsF16`; bf16 -> float32 (exact) -> float16 for `bf16FitsF16` (a bf16 fits when the
f16 is finite and converts back to the same value, or the value is an f16 subnormal's rounding).

    python3 scripts/gpu/make_f16_vectors.py > fixtures/gpu/f16-conversion.json
"""

import json

import numpy as np

rng = np.random.default_rng(20261127)

edges = [
    0.0, 1.0, -1.0, 65504.0, -65504.0, 65519.0, 65519.996, 65520.0, -65520.0, 70000.0, 1e6,
    2.0**-14, 2.0**-15, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0001, 3 * 2.0**-26, 1e-8, 1e-5, 6.1e-5,
    1 + 2.0**-11, 1 + 3 * 2.0**-11, 2048 + 1, 2048 + 3, 0.1, 0.2, 0.3, 1 / 3, 3.14159265,
]
randoms = np.concatenate([
    rng.uniform(-1, 1, 200),
    rng.uniform(-70000, 70000, 100),
    np.exp(rng.uniform(np.log(1e-9), np.log(1e-3), 100)) * rng.choice([-1, 1], 100),
])
f32 = np.array(edges + list(randoms), dtype=np.float32)
with np.errstate(over="ignore"):
    f16 = f32.astype(np.float16)

bf16_bits = np.concatenate([
    np.array([0x0000, 0x3F80, 0x4780, 0x477F, 0xC77F, 0xC780, 0x4800, 0x7F80, 0xFF80, 0x7FC0, 0x3880, 0x3800, 0x3300, 0x0001], dtype=np.uint16),
    rng.integers(0, 0x10000, 300, dtype=np.uint16),
])
bf16_values = (bf16_bits.astype(np.uint32) << 16).view(np.float32)
with np.errstate(over="ignore", invalid="ignore"):
    bf16_as_f16 = bf16_values.astype(np.float16)
fits = np.isfinite(bf16_as_f16) & np.isfinite(bf16_values)

print(json.dumps({
    "generator": "scripts/gpu/make_f16_vectors.py",
    "numpy": np.__version__,
    "f32": [float(v) for v in f32],
    "f16": [None if not np.isfinite(v) else float(v) for v in f16],
    "bf16Bits": [int(b) for b in bf16_bits],
    "bf16FitsF16": [bool(b) for b in fits],
}))
