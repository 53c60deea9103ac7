"""Random edits of valid inputs, for the fuzzers that start from a good file or body."""
from __future__ import annotations

import random


def mutate(data: bytes, seed: int, edits: int, tokens: list[bytes]) -> bytes:
    """`edits` random edits: flip a bit, cut the rest, insert random bytes or one of `tokens`
    (syntax worth splicing in), copy a slice of the data elsewhere. Same seed, same result."""
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(edits):
        at = rng.randrange(len(out) + 1)
        kind = rng.randrange(5)
        if kind == 0 and at < len(out):
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del out[at:]
        elif kind == 2:
            out[at:at] = rng.randbytes(rng.randrange(1, 16))
        elif kind == 3:
            out[at:at] = rng.choice(tokens)
        else:
            start = rng.randrange(len(out) + 1)
            out[at:at] = out[start:start + rng.randrange(1, 512)]
    return bytes(out)
