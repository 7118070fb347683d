#!/usr/bin/env python3
"""The CPython peer of the parser benchmark: the same files through the standard library's email package
with policy.default and a full decode of every part (headers, text, attachments).

    cpython_email.py CORPUS_DIR [ROUNDS] [--json]

With --json it also builds the equivalent webhook payload (base64 attachments, json.dumps), the same work
the Swift side does; without it only parsing and decoding are timed, the cheaper of the two."""
import base64, email.parser, email.policy, json, pathlib, statistics, sys, time

args = [a for a in sys.argv[1:] if not a.startswith("--")]
with_json = "--json" in sys.argv
directory = pathlib.Path(args[0])
rounds = int(args[1]) if len(args) > 1 else 3
messages = [path.read_bytes() for path in sorted(directory.glob("*.eml"))]
total = sum(len(m) for m in messages)
parser = email.parser.BytesParser(policy=email.policy.default)

def process(raw):
    msg = parser.parsebytes(raw)
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name.lower().replace("-", "_"), []).append(str(value))
    plain = html = None
    attachments = []
    for part in msg.walk():
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
        if kind == "text/plain" and plain is None and part.get_filename() is None:
            plain = content
        elif kind == "text/html" and html is None and part.get_filename() is None:
            html = content
        else:
            data = content if isinstance(content, bytes) else str(content).encode()
            attachments.append({"file_name": part.get_filename(), "content_type": kind, "size": len(data),
                                "content": base64.b64encode(data).decode() if with_json else None})
    if with_json:
        return len(json.dumps({"headers": headers, "plain": plain, "html": html, "attachments": attachments}))
    return len(attachments)

seconds = []
for round_number in range(1, rounds + 1):
    start = time.perf_counter()
    for raw in messages:
        process(raw)
    seconds.append(time.perf_counter() - start)
    print(f"round {round_number}/{rounds}: {seconds[-1]:.3f} s", file=sys.stderr)
median = statistics.median(seconds)
print(json.dumps({"messages": len(messages), "bytes": total, "median_seconds": round(median, 4),
                  "mb_per_s": round(total / 1e6 / median, 1), "json": with_json}))
