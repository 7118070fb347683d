#!/usr/bin/env python3
"""Differential check of the parser against CPython's email package (policy.default) and, when it is built, GMime 3
(`.build/bench/gmime_peer`, which scripts/bench-parser builds): for each .eml in a directory, compares plain, html,
the attachments (name, type, decoded size) and the subject as `meridian message parse` gives them with what each
peer makes of the same bytes, and prints the messages that differ, naming the peer.

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

ROOT = pathlib.Path(__file__).resolve().parents[2]
MERIDIAN = ROOT / ".build/debug/meridian"
GMIME = ROOT / ".build/bench/gmime_peer"


def cpython_view(raw):
    """plain, html, [(file name, type, size)] and the subject as CPython reads them."""
    message = PARSER.parsebytes(raw)
    plain, html, attachments = decoded_parts(message)
    subject = str(message["subject"]) if message["subject"] is not None else None
    return plain, html, [(name, kind, len(data)) for name, kind, data in attachments], subject


def normalised(text):
    return text.replace("\r\n", "\n").rstrip("\n") if isinstance(text, str) else text


def gmime_views(directory):
    """file name -> (plain, html, attachments, subject) as GMime reads them, or {} when the peer is not built."""
    if not GMIME.exists():
        return {}
    lines = subprocess.run([str(GMIME), "--dump", str(directory)], capture_output=True, check=True).stdout.decode("utf-8", "replace").splitlines()
    views = {}
    for line in lines:
        view = json.loads(line)
        views[view["file"]] = (view["plain"], view["html"], [tuple(a) for a in view["attachments"]], view["subject"])
    return views


def differences(path, peers):
    ours = json.loads(subprocess.run([str(MERIDIAN), "message", "parse", str(path), "--to", "a@b.example"],
                                     capture_output=True, check=True).stdout)
    mine_attachments = [(a["file_name"], a["content_type"], a["size"]) for a in ours["attachments"]]
    found = []
    for peer, (plain, html, attachments, subject) in peers:
        for name, theirs, mine in (("plain", plain, ours["plain"]), ("html", html, ours["html"])):
            if normalised(theirs) != normalised(mine):
                found.append(f"{peer} {name}: {str(theirs)[:80]!r}, Meridian {str(mine)[:80]!r}")
        # GMime names a part's type without its parameters; compare what both give.
        mine = [(name, kind.split(";")[0] if peer == "GMime" else kind, size) for name, kind, size in mine_attachments]
        if mine != list(attachments):
            found.append(f"{peer} attachments: {attachments}, Meridian {mine}")
        if subject != ours["headers"].get("subject"):
            found.append(f"{peer} subject: {subject!r}, Meridian {ours['headers'].get('subject')!r}")
    return found


limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
directory = pathlib.Path(sys.argv[1])
gmime = gmime_views(directory)
if not gmime:
    print(f"(GMime not compared: build it with scripts/bench-parser; {GMIME} is missing)", file=sys.stderr)
for path in sorted(directory.glob("*.eml"))[:limit]:
    peers = [("CPython", cpython_view(path.read_bytes()))]
    if path.name in gmime:
        peers.append(("GMime", gmime[path.name]))
    found = differences(path, peers)
    if found:
        print(path.name)
        for line in found:
            print("   ", line)
