#!/usr/bin/env python3
"""Writes the scaled-up parser benchmark corpus: inbound mail shaped like a webhook service sees it.

    make_corpus.py OUT_DIR [--megabytes 100] [--seed 1]

The mix (by message count): 40 % newsletters (multipart/alternative, quoted-printable HTML), 30 % replies
(UTF-8 text with quoted history and HTML), 25 % with base64 attachments of 50 KB to 2 MB, 5 % with a
5 to 10 MB attachment; plus the reviewed test corpus. Deterministic for a given seed."""
import argparse, base64, pathlib, quopri, random, shutil

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--megabytes", type=int, default=100)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)

WORDS = ("the invoice report meeting quarterly numbers please find attached regards thanks schedule "
         "Zürich café naïve résumé Straße 東京 δοκιμή привет update shipment order confirm").split()

def words(n):
    return " ".join(rng.choice(WORDS) for _ in range(n))

def paragraph_lines(n_words, width=72):
    text, lines, line = words(n_words), [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word).strip()
    lines.append(line)
    return "\n".join(lines)

def headers(i, subject, content_type):
    received = "".join(
        f"Received: from relay{h}.example.net (relay{h}.example.net [198.51.100.{h}])\n\tby mx{h}.example.org with ESMTPS id {rng.getrandbits(48):012x}\n\tfor <inbox@eu-customer.example>; Mon, 23 Nov 2026 09:{h:02d}:00 +0000\n"
        for h in range(rng.randint(3, 15)))
    return (received + f"From: =?UTF-8?Q?J=C3=B6rg_{i}?= <sender{i}@origin.example>\nTo: inbox@eu-customer.example\n"
            f"Subject: =?UTF-8?B?{base64.b64encode(subject.encode()).decode()}?=\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{rng.getrandbits(64):x}@origin.example>\nMIME-Version: 1.0\nContent-Type: {content_type}\n")

def qp(text):
    return quopri.encodestring(text.encode()).decode()

def b64(data):
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))

def alternative(plain, html, boundary):
    return (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n{qp(plain)}\n"
            f"--{boundary}\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n{qp(html)}\n--{boundary}--\n")

def html_of(text):
    return "<html><body>" + "".join(f"<p style=\"margin:0 0 12px 0;font-family:Arial\">{p}</p>" for p in text.split("\n")) + "</body></html>"

def message(i):
    kind = rng.random()
    if kind < 0.40:
        plain = "\n\n".join(paragraph_lines(rng.randint(60, 160)) for _ in range(rng.randint(4, 10)))
        return headers(i, "Newsletter " + words(4), 'multipart/alternative; boundary="alt"') + "\n" + alternative(plain, html_of(plain) * 3, "alt")
    if kind < 0.70:
        reply = paragraph_lines(rng.randint(20, 120))
        quoted = "\n".join("> " + line for line in paragraph_lines(rng.randint(100, 400)).split("\n"))
        plain = f"{reply}\n\nOn Mon, 23 Nov 2026 at 09:00, Bob <bob@x.example> wrote:\n{quoted}\n"
        return headers(i, "Re: " + words(3), 'multipart/alternative; boundary="alt"') + "\n" + alternative(plain, html_of(plain), "alt")
    size = rng.randint(50_000, 2_000_000) if kind < 0.95 else rng.randint(5_000_000, 10_000_000)
    data = rng.randbytes(size)
    body = paragraph_lines(rng.randint(20, 80))
    return (headers(i, "Invoice " + words(2), 'multipart/mixed; boundary="mixed"') + "\n--mixed\n"
            + 'Content-Type: multipart/alternative; boundary="alt"\n\n' + alternative(body, html_of(body), "alt")
            + f"--mixed\nContent-Type: application/pdf; name=\"invoice-{i}.pdf\"\nContent-Disposition: attachment; filename=\"invoice-{i}.pdf\"\n"
            + f"Content-Transfer-Encoding: base64\n\n{b64(data)}\n--mixed--\n")

total, i = 0, 0
while total < args.megabytes * 1_000_000:
    data = message(i).replace("\n", "\r\n").encode()
    (out / f"bench-{i:05d}.eml").write_bytes(data)
    total += len(data)
    i += 1
fixtures = pathlib.Path(__file__).resolve().parents[2] / "Tests/MeridianCoreTests/Fixtures/messages"
for eml in fixtures.glob("*.eml"):
    shutil.copy(eml, out / f"fixture-{eml.name}")
print(f"{i} generated messages, {total / 1e6:.1f} MB, plus {len(list(fixtures.glob('*.eml')))} fixtures in {out}")
