"""The seal the lifecycle asks of signing (core.hooks « seal_pdf »), registered at start-up:
pyHanko and its HTTP clients load on the first PDF sealed, not in every process."""

from __future__ import annotations


def seal_pdf(content: bytes, *, reason: str) -> bytes:
    """`signing.pades.seal_pdf`, imported when first called."""
    from .pades import seal_pdf as seal

    return seal(content, reason=reason)
