"""Is a SECRET_KEY guessable? Production refuses one that is (issue 14, finding 7).

A token forged with the placeholder of ``deploy/kubernetes/secret.example.yaml`` was accepted: length
alone let placeholders, one character repeated and short patterns through. Each rule below is cheap,
has no false positive on ``secrets.token_urlsafe(n)`` or ``secrets.token_hex(n)`` of at least 32 bytes
(``token_hex(16)`` estimates at 86 bits at worst over 100 000 draws), and its refusal names it.
"""

from __future__ import annotations

import math
from collections import Counter

MIN_SECRET_BYTES = 32
#: Shannon entropy of the key's own characters, times its length: a rough but conservative estimate.
MIN_ESTIMATED_BITS = 80
#: Words of placeholders and tutorials ("changeme", "replace-with-...", "your-secret-here", "example").
PLACEHOLDER_WORDS = (
    "change",
    "replace",
    "example",
    "secret",
    "password",
    "placeholder",
    "insecure",
    "default",
)
GENERATE = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def estimated_bits(key: str) -> float:
    counts = Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values())


def repeated_period(key: str) -> int | None:
    """The length of a unit that, repeated, makes up the whole key (a partial last copy allowed)."""
    for period in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i - period] for i in range(period, len(key))):
            return period
    return None


def weakness(key: str) -> str | None:
    """Why *key* must not sign production tokens, as the rest of a one-line message; None if it may."""
    lowered = key.lower()
    word = next((word for word in PLACEHOLDER_WORDS if word in lowered), None)
    if word is not None:
        return f"contains the placeholder word {word!r}; {GENERATE}"
    if len(key.encode()) < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes; {GENERATE}"
    period = repeated_period(key)
    if period is not None:
        return f"is a sequence of {period} character(s) repeated; {GENERATE}"
    bits = estimated_bits(key)
    if bits < MIN_ESTIMATED_BITS:
        return f"has about {bits:.0f} bits of entropy, fewer than {MIN_ESTIMATED_BITS}; {GENERATE}"
    return None
