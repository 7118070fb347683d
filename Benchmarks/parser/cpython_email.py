#!/usr/bin/env python3
"""The CPython peer of the parser benchmark: the same files through the standard library's email package
with policy.default and a full decode of every part (headers, text, attachments).

    cpython_email.py CORPUS_DIR [ROUNDS] [--json]

With --json it also builds the equivalent webhook payload (base64 attachments, json.dumps), the same work
the Swift side does; without it only parsing and decoding are timed, the cheaper of the two.
crosscheck.py uses decoded_parts() to compare answers, not times."""
import base64
import email.parser
import email.policy
import json
import pathlib
import statistics
import sys
import time

PARSER = email.parser.BytesParser(policy=email.policy.default)


def decoded_parts(message):
    """plain, html and [(file name, content type, bytes)] of a parsed message, every leaf part decoded,
    chosen by Meridian's rule: the first text/plain and text/html that are not attachments are the bodies."""
    plain = html = None
    attachments = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            content = part.get_content()
        except (KeyError, LookupError):
            # No content manager for it (a multipart without parts, an unknown charset): raw bytes.
            content = part.get_payload(decode=True) or b""
        kind = part.get_content_type()
        if isinstance(content, bytes) and kind.startswith("text/"):
            content = content.decode("utf-8", "replace")
        is_body = part.get_filename() is None and part.get_content_disposition() != "attachment"
        if is_body and kind == "text/plain" and plain is None:
            plain = content
        elif is_body and kind == "text/html" and html is None:
            html = content
        else:
            data = content if isinstance(content, bytes) else str(content).encode()
            attachments.append((part.get_filename(), kind, data))
    return plain, html, attachments


def process(raw, with_json):
    message = PARSER.parsebytes(raw)
    headers = {}
    for name, value in message.items():
        headers.setdefault(name.lower().replace("-", "_"), []).append(str(value))
    plain, html, attachments = decoded_parts(message)
    if not with_json:
        return len(attachments)
    return len(json.dumps({"headers": headers, "plain": plain, "html": html, "attachments": [
        {"file_name": name, "content_type": kind, "size": len(data), "content": base64.b64encode(data).decode()}
        for name, kind, data in attachments]}))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    with_json = "--json" in sys.argv
    rounds = int(args[1]) if len(args) > 1 else 3
    messages = [path.read_bytes() for path in sorted(pathlib.Path(args[0]).glob("*.eml"))]
    total = sum(len(m) for m in messages)
    seconds = []
    for round_number in range(1, rounds + 1):
        start = time.perf_counter()
        for raw in messages:
            process(raw, with_json)
        seconds.append(time.perf_counter() - start)
        print(f"round {round_number}/{rounds}: {seconds[-1]:.3f} s", file=sys.stderr)
    median = statistics.median(seconds)
    print(json.dumps({"messages": len(messages), "bytes": total, "median_seconds": round(median, 4),
                      "mb_per_s": round(total / 1e6 / median, 1), "json": with_json}))


if __name__ == "__main__":
    main()
