#!/usr/bin/env python3
"""The Rust peer of the parser benchmark: the `mailparse` crate's family as PyPI's fast-mail-parser wraps it
(Rust, parse and decode every part, text to UTF-8). The loop around it is Python's, one call per message,
which costs a few microseconds of the message's time.

    mailparse_peer.py CORPUS_DIR [ROUNDS]      timing, one JSON line like parser-benchmark's
    mailparse_peer.py --dump CORPUS_DIR        one JSON line per message: plain, html, attachments, subject

A message it refuses (fast-mail-parser raises on a broken base64 part, where Meridian keeps the bytes) is
counted in `refused` and dumped with "error"."""
import json
import pathlib
import statistics
import sys
import time

import fast_mail_parser


def view(raw):
    mail = fast_mail_parser.parse_email(raw)
    attachments = [[a.filename, a.mimetype, len(a.content)] for a in mail.attachments]
    plain = mail.text_plain[0] if mail.text_plain else None
    html = mail.text_html[0] if mail.text_html else None
    return {"plain": plain, "html": html, "subject": mail.subject, "attachments": attachments}


def main():
    args = [a for a in sys.argv[1:] if a != "--dump"]
    paths = sorted(pathlib.Path(args[0]).glob("*.eml"))
    if "--dump" in sys.argv:
        for path in paths:
            try:
                line = {"file": path.name, **view(path.read_bytes())}
            except fast_mail_parser.ParseError as error:
                line = {"file": path.name, "error": str(error)}
            print(json.dumps(line, ensure_ascii=False))
        return
    rounds = int(args[1]) if len(args) > 1 else 5
    messages = [path.read_bytes() for path in paths]
    total = sum(len(m) for m in messages)
    seconds, refused, checksum = [], 0, 0
    for round_number in range(1, rounds + 1):
        refused = 0
        start = time.perf_counter()
        for raw in messages:
            try:
                mail = fast_mail_parser.parse_email(raw)
                checksum += len(mail.attachments)
            except fast_mail_parser.ParseError:
                refused += 1
        seconds.append(time.perf_counter() - start)
        print(f"round {round_number}/{rounds}: {seconds[-1]:.3f} s", file=sys.stderr)
    median = statistics.median(seconds)
    print(json.dumps({"messages": len(messages), "bytes": total, "median_seconds": round(median, 4),
                      "mb_per_s": round(total / 1e6 / median, 1), "messages_per_s": round(len(messages) / median),
                      "refused": refused, "checksum": checksum}))


if __name__ == "__main__":
    main()
