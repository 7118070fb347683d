"""Writes dkim-vectors.json: messages signed by dkimpy (the reference Python implementation) with the keys
it publishes, and what a verifier must say about each. Run with the venv's Python to regenerate:
    .build/venv/bin/python Tests/MeridianCoreTests/Fixtures/dkim/make_fixtures.py
The keys are made afresh each run; the fixture is only a test vector, nothing signs real mail with them."""

import base64
import json
import os
import types

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

HERE = os.path.dirname(os.path.abspath(__file__))

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
rsa_pub = base64.b64encode(rsa_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
ed_key = ed25519.Ed25519PrivateKey.generate()
ed_seed = base64.b64encode(ed_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
ed_pub = base64.b64encode(ed_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
short_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
short_pem = short_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
short_pub = base64.b64encode(short_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

records = {
    "rsa._domainkey.signed.example": f"v=DKIM1; k=rsa; p={rsa_pub}",
    "ed._domainkey.signed.example": f"v=DKIM1; k=ed25519; p={ed_pub}",
    "short._domainkey.signed.example": f"v=DKIM1; k=rsa; p={short_pub}",
    "revoked._domainkey.signed.example": "v=DKIM1; k=rsa; p=",
    "garbage._domainkey.signed.example": "v=DKIM1; k=rsa; p=bm90IGEga2V5",
}

BASE = (b"From: Alice <alice@signed.example>\r\nTo: inbox@acme.example\r\nSubject:  Folded\r\n  subject line \r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <v1@signed.example>\r\n\r\n"
        b"Hello  there, \r\nsecond line\r\n\r\n\r\n")
HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


def sign(message, selector, key, canon=(b"relaxed", b"relaxed"), algorithm=b"rsa-sha256", length=False, expire=None):
    signature = dkim.sign(message, selector, b"signed.example", key, canonicalize=canon, include_headers=HEADERS,
                          signature_algorithm=algorithm, length=length)
    if expire is not None:
        # dkimpy's sign() writes no x= tag. Its i= value goes into the field as given, so "@domain; x=N; z=domain" adds the
        # tag inside what is signed, and a clock set before N gives a t= that is earlier.
        real_time = dkim.time
        dkim.time = types.SimpleNamespace(time=lambda: expire - 100)
        try:
            signature = dkim.sign(message, selector, b"signed.example", key, canonicalize=canon, include_headers=HEADERS,
                                  signature_algorithm=algorithm, identity=b"@signed.example; x=%d; z=signed.example" % expire)
        finally:
            dkim.time = real_time
    return signature + message


vectors = []


def add(name, message, expect):
    d = dkim.DKIM(message)
    try:
        checked = d.verify(dnsfunc=lambda n, timeout=5: records.get(n.decode().rstrip("."), "").encode() or None)
    except dkim.DKIMException:
        checked = False
    vectors.append({"name": name, "message": base64.b64encode(message).decode(), "expect": expect, "dkimpy": bool(checked)})


add("rsa-sha256 relaxed/relaxed", sign(BASE, b"rsa", rsa_pem), ["pass"])
add("rsa-sha256 simple/simple", sign(BASE, b"rsa", rsa_pem, canon=(b"simple", b"simple")), ["pass"])
add("rsa-sha256 relaxed/simple", sign(BASE, b"rsa", rsa_pem, canon=(b"relaxed", b"simple")), ["pass"])
add("ed25519-sha256 relaxed/relaxed", sign(BASE, b"ed", ed_seed, algorithm=b"ed25519-sha256"), ["pass"])
add("ed25519-sha256 simple/relaxed", sign(BASE, b"ed", ed_seed, canon=(b"simple", b"relaxed"), algorithm=b"ed25519-sha256"), ["pass"])
signed = sign(BASE, b"rsa", rsa_pem, length=True)
add("l= with text appended after signing", signed + b"appended by a list\r\n", ["pass"])
add("body changed", signed.replace(b"second line", b"second LINE"), ["fail"])
add("signed header changed", sign(BASE, b"rsa", rsa_pem).replace(b"Subject:  Folded", b"Subject:  Forged"), ["fail"])
add("relaxed survives whitespace changes", sign(BASE, b"rsa", rsa_pem).replace(b"Hello  there, ", b"Hello there,"), ["pass"])
add("simple does not survive whitespace changes", sign(BASE, b"rsa", rsa_pem, canon=(b"simple", b"simple")).replace(b"Hello  there, ", b"Hello there,"), ["fail"])
add("two signatures, both good", sign(sign(BASE, b"rsa", rsa_pem), b"ed", ed_seed, algorithm=b"ed25519-sha256"), ["pass", "pass"])
add("1024-bit key", sign(BASE, b"short", short_pem), ["pass"])
add("revoked key", sign(BASE, b"rsa", rsa_pem).replace(b"s=rsa", b"s=revoked"), ["permerror"])
add("key that is not a key", sign(BASE, b"rsa", rsa_pem).replace(b"s=rsa", b"s=garbage"), ["permerror"])
add("no key published", sign(BASE, b"rsa", rsa_pem).replace(b"s=rsa", b"s=missing"), ["permerror"])
add("expired", sign(BASE, b"rsa", rsa_pem, expire=1_000_000_000), ["policy"])
add("bare LF line endings", sign(BASE, b"rsa", rsa_pem).replace(b"\r\n", b"\n"), ["pass"])

with open(os.path.join(HERE, "dkim-vectors.json"), "w") as f:
    json.dump({"records": records, "vectors": vectors}, f, indent=1)
    f.write("\n")
print(f"wrote {len(vectors)} vectors")
