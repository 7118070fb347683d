#!/usr/bin/env python3
"""Differential check of the parser against CPython's email package (policy.default): for each .eml in a
directory, compares plain, html, the attachments (name, type, decoded size) and the subject as
`meridian message parse` gives them with what CPython makes of the same bytes, and prints the messages
that differ.

    Benchmarks/parser/crosscheck.py DIR [MESSAGES]     (uses .build/debug/meridian)

Meridian differs from CPython on purpose in six ways, all in Tests/MeridianCoreTests/Fixtures/messages:
ISO-8859-1 and US-ASCII labels read as Windows-1252 (WHATWG); an undeclared 8-bit body read as UTF-8 when
valid; a multipart whose boundary never occurs kept as text; message/rfc822 kept whole as an attachment;
nesting beyond 16 levels kept as an attachment; undecodable text in an unknown charset kept as bytes too.
Line ends are compared without CR and trailing newlines."""
import json
import pathlib
import subprocess
import sys

from cpython_email import PARSER, decoded_parts

MERIDIAN = pathlib.Path(__file__).resolve().parents[2] / ".build/debug/meridian"


def cpython_view(raw):
    """plain, html, [(file name, type, size)] and the subject as CPython reads them."""
    message = PARSER.parsebytes(raw)
    plain, html, attachments = decoded_parts(message)
    subject = str(message["subject"]) if message["subject"] is not None else None
    return plain, html, [(name, kind, len(data)) for name, kind, data in attachments], subject


def normalised(text):
    return text.replace("\r\n", "\n").rstrip("\n") if isinstance(text, str) else text


def differences(path):
    ours = json.loads(subprocess.run([str(MERIDIAN), "message", "parse", str(path), "--to", "a@b.example"],
                                     capture_output=True, check=True).stdout)
    plain, html, attachments, subject = cpython_view(path.read_bytes())
    found = []
    for name, theirs, mine in (("plain", plain, ours["plain"]), ("html", html, ours["html"])):
        if normalised(theirs) != normalised(mine):
            found.append(f"{name}: CPython {str(theirs)[:80]!r}, Meridian {str(mine)[:80]!r}")
    mine = [(a["file_name"], a["content_type"], a["size"]) for a in ours["attachments"]]
    if mine != attachments:
        found.append(f"attachments: CPython {attachments}, Meridian {mine}")
    if subject != ours["headers"].get("subject"):
        found.append(f"subject: CPython {subject!r}, Meridian {ours['headers'].get('subject')!r}")
    return found


limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.eml"))[:limit]:
    found = differences(path)
    if found:
        print(path.name)
        for line in found:
            print("   ", line)
