"""WeCom callback encryption (回调加解密), as the public spec defines it.

- ``msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt])))`` (hex);
- AES-256-CBC with ``key = base64decode(EncodingAESKey + "=")`` (32 bytes) and ``IV = key[:16]``;
- plaintext = 16 random bytes + ``len(msg)`` (4 bytes, network order) + msg + receive id
  (the corp id), PKCS#7-padded to a multiple of **32** bytes; the ciphertext is base64.

Implemented with ``cryptography``; checked against the example values of Tencent's published
samples (tests/channels/test_wecom_crypto.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from siyu.channels.base import ChannelError

__all__ = ["CallbackCrypto", "CryptoError", "signature"]

BLOCK = 32


class CryptoError(ChannelError):
    """A callback that fails the signature, decryption or receive-id check."""

    def __init__(self, code: str, msg: str):
        super().__init__(msg)
        self.code = code


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


class CallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        if len(encoding_aes_key) != 43:
            raise CryptoError("bad_key", "EncodingAESKey must have 43 characters")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise CryptoError("bad_key", "EncodingAESKey is not base64") from None
        self.token = token
        self.receive_id = receive_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    # -- the primitives ------------------------------------------------------------------------
    def encrypt(self, msg: str, *, random16: bytes | None = None) -> str:
        raw = msg.encode()
        text = (random16 or os.urandom(16)) + struct.pack(">I", len(raw)) + raw \
            + self.receive_id.encode()
        pad = BLOCK - len(text) % BLOCK
        text += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(text) + enc.finalize()).decode()

    def decrypt(self, encrypt: str) -> tuple[str, str]:
        """(message, receive id) of an ``Encrypt`` value."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("bad_base64", "Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise CryptoError("bad_length", "ciphertext length is not a multiple of 16")
        dec = self._cipher().decryptor()
        text = dec.update(data) + dec.finalize()
        pad = text[-1]
        if not 1 <= pad <= BLOCK or text[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad_padding", "bad padding (wrong key?)")
        text = text[:-pad]
        if len(text) < 20:
            raise CryptoError("bad_length", "plaintext too short")
        (n,) = struct.unpack(">I", text[16:20])
        if 20 + n > len(text):
            raise CryptoError("bad_length", "message length out of range")
        try:
            return text[20:20 + n].decode(), text[20 + n:].decode()
        except UnicodeDecodeError:
            raise CryptoError("bad_text", "message is not UTF-8") from None

    # -- the two checks a callback URL makes ---------------------------------------------------
    def check_signature(self, msg_signature: str, timestamp: str, nonce: str,
                        encrypt: str) -> None:
        want = signature(self.token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(want, (msg_signature or "").lower()):
            raise CryptoError("bad_signature", "msg_signature does not match")

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """Verify and decrypt; the receive id must be ours."""
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        msg, rid = self.decrypt(encrypt)
        if self.receive_id and rid != self.receive_id:
            raise CryptoError("bad_receive_id", "receive id is not this corp")
        return msg

    def seal(self, msg: str, timestamp: str, nonce: str) -> tuple[str, str]:
        """(Encrypt, msg_signature) of ``msg`` — what WeCom sends (used by tests and fakes)."""
        enc = self.encrypt(msg)
        return enc, signature(self.token, timestamp, nonce, enc)

    def envelope(self, msg: str, timestamp: str, nonce: str, agent_id: str = "") -> tuple[str, str]:
        """(XML body, msg_signature) of an encrypted callback POST."""
        enc, sig = self.seal(msg, timestamp, nonce)
        xml = (f"<xml><ToUserName><![CDATA[{self.receive_id}]]></ToUserName>"
               f"<Encrypt><![CDATA[{enc}]]></Encrypt>"
               f"<AgentID><![CDATA[{agent_id}]]></AgentID></xml>")
        return xml, sig
