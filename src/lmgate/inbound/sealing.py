"""Sealed reasoning for `include: ["reasoning.encrypted_content"]`: the upstream's reasoning text,
encrypted and authenticated with a gateway secret so a stateless client (Codex sends `store: false`)
can hand it back on its next turn and nobody can read or forge it on the way.

Stdlib only: HMAC-SHA256 in counter mode as the keystream, encrypt-then-MAC with a separate key,
a random 16-byte nonce per blob. Format: "lmg1." + urlsafe base64(nonce | ciphertext | tag[16]).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import zlib

_PREFIX = "lmg1."
_NONCE = 16
_TAG = 16


class Sealer:
    def __init__(self, secret: str) -> None:
        root = secret.encode()
        self._enc = hmac.new(root, b"lmgate reasoning enc", hashlib.sha256).digest()
        self._mac = hmac.new(root, b"lmgate reasoning mac", hashlib.sha256).digest()

    def _keystream(self, nonce: bytes, size: int) -> bytes:
        blocks = (hmac.new(self._enc, nonce + n.to_bytes(4, "big"), hashlib.sha256).digest() for n in range(size // 32 + 1))
        return b"".join(blocks)[:size]

    def _tag(self, nonce: bytes, cipher: bytes) -> bytes:
        return hmac.new(self._mac, nonce + cipher, hashlib.sha256).digest()[:_TAG]

    def seal(self, text: str) -> str:
        plain = zlib.compress(text.encode(), 6)
        nonce = os.urandom(_NONCE)
        cipher = bytes(a ^ b for a, b in zip(plain, self._keystream(nonce, len(plain)), strict=True))
        return _PREFIX + base64.urlsafe_b64encode(nonce + cipher + self._tag(nonce, cipher)).decode()

    def open(self, blob: str) -> str | None:
        """The sealed text, or None when the blob is not one of ours (another gateway, tampered, foreign)."""
        if not blob.startswith(_PREFIX):
            return None
        try:
            raw = base64.urlsafe_b64decode(blob[len(_PREFIX) :])
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _NONCE + _TAG:
            return None
        nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        if not hmac.compare_digest(tag, self._tag(nonce, cipher)):
            return None
        plain = bytes(a ^ b for a, b in zip(cipher, self._keystream(nonce, len(cipher)), strict=True))
        try:
            return zlib.decompress(plain).decode()
        except (zlib.error, UnicodeDecodeError):
            return None
