"""WeCom callback crypto against the example values of Tencent's published callback samples
(WXBizMsgCrypt sample code: token ``QDG6eK``, EncodingAESKey ``jWmYm7…B2C``, receive id
``wx5823bf96d3bd56c7``), and round trips."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.channels.wecom.crypto import CallbackCrypto, CryptoError, signature

TOKEN, KEY, RID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczcd"
    "CUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4"
    "Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+"
    "KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4X"
    "XZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIG"
    "HBZZIs2pDBS8R07+qN+E7Q==")
ECHO = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


def test_published_post_example_signature_and_plaintext():
    assert signature(TOKEN, "1409659813", "1372623149", POST_ENCRYPT) == \
        "477715d11cdb4164915debcba66cb864d751f3e6"
    msg = CallbackCrypto(TOKEN, KEY, RID).open("477715d11cdb4164915debcba66cb864d751f3e6",
                                               "1409659813", "1372623149", POST_ENCRYPT)
    assert msg == ("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
                   "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
                   "<CreateTime>1409659813</CreateTime>\n"
                   "<MsgType><![CDATA[text]]></MsgType>\n"
                   "<Content><![CDATA[hello]]></Content>\n"
                   "<MsgId>4561255354251345929</MsgId>\n"
                   "<AgentID>218</AgentID>\n</xml>")


def test_published_url_verification_example():
    assert signature(TOKEN, "1409659589", "263014780", ECHO) == \
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    cr = CallbackCrypto(TOKEN, KEY, RID)
    assert cr.open("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
                   ECHO) == "1616140317555161061"


def test_padding_is_to_32_bytes_and_iv_is_the_key_head():
    cr = CallbackCrypto(TOKEN, KEY, RID)
    enc = cr.encrypt("x" * 5, random16=b"\0" * 16)
    raw = base64.b64decode(enc)
    assert len(raw) == 64  # 16 + 4 + 5 + 18 = 43 → padded to 64
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(KEY + "=")
    d = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = d.update(raw) + d.finalize()
    assert plain[-21:] == bytes([21]) * 21 and plain[16:20] == b"\0\0\0\x05"


@given(st.text(max_size=300), st.text(alphabet="abcdefghijklmnop0123456789", max_size=20))
def test_round_trip(msg, nonce):
    cr = CallbackCrypto(TOKEN, KEY, RID)
    enc, sig = cr.seal(msg, "1700000000", nonce)
    assert cr.open(sig, "1700000000", nonce, enc) == msg


@pytest.mark.parametrize("change,code", [
    (lambda e, s: (e, s[:-1] + ("0" if s[-1] != "0" else "1")), "bad_signature"),
    (lambda e, s: (e[:-8] + "AAAAAAA=", s), "bad_signature"),
])
def test_forged_signature_is_rejected(change, code):
    cr = CallbackCrypto(TOKEN, KEY, RID)
    enc, sig = cr.seal("<xml/>", "1700000000", "n1")
    e2, s2 = change(enc, sig)
    with pytest.raises(CryptoError) as ei:
        cr.open(s2, "1700000000", "n1", e2)
    assert ei.value.code == code


def test_other_corp_and_bad_key_are_rejected():
    other = CallbackCrypto(TOKEN, KEY, "wwother")
    enc, sig = other.seal("<xml/>", "1", "n")
    with pytest.raises(CryptoError) as ei:
        CallbackCrypto(TOKEN, KEY, RID).open(sig, "1", "n", enc)
    assert ei.value.code == "bad_receive_id"
    with pytest.raises(CryptoError):
        CallbackCrypto(TOKEN, "short", RID)
    with pytest.raises(CryptoError) as ei:
        CallbackCrypto(TOKEN, KEY, RID).decrypt("not base64!!")
    assert ei.value.code == "bad_base64"
