#!/usr/bin/env python3
"""Writes the .eml files of the parser corpus, shaped after real mail from common clients. Each file is
committed; this script only documents how the odd ones (huge headers, deep nesting, 8-bit charsets) were
made. The expected payloads (*.json) are written by the Swift test with MERIDIAN_UPDATE_FIXTURES=1 and
reviewed by hand."""
import base64, pathlib

here = pathlib.Path(__file__).parent
def write(name, text, encoding="utf-8"):
    data = text.encode(encoding) if isinstance(text, str) else text
    (here / name).write_bytes(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

HEAD = "From: Ann Example <ann@origin.example>\nTo: inbox@eu-customer.example\nDate: Mon, 23 Nov 2026 10:00:00 +0100\n"

write("multipart-alternative.eml", HEAD + """Message-ID: <5f1c2a@origin.example>
Subject: Quarterly numbers
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Type: multipart/alternative;
 boundary="------------A1b2C3d4E5f6G7h8"
Content-Language: en-GB

This is a multi-part message in MIME format.
--------------A1b2C3d4E5f6G7h8
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: quoted-printable

Hi team,

The numbers are in =E2=80=94 revenue is up 12 % on last quarter. A long li=
ne that was soft-wrapped by the encoder.

Ann
--------------A1b2C3d4E5f6G7h8
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 7bit

<html><body><p>Hi team,</p><p>The numbers are in &mdash; revenue is up 12&nbsp;% on last quarter.</p><p>Ann</p></body></html>

--------------A1b2C3d4E5f6G7h8--
""")

pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40
def b64(data):
    text = base64.b64encode(data).decode()
    return "\n".join(text[i:i + 76] for i in range(0, len(text), 76))

write("nested-mixed-attachments.eml", HEAD + f"""Message-ID: <CAF=nested@mail.origin.example>
Subject: Invoice and photo
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer-0001"

--outer-0001
Content-Type: multipart/related; boundary="related-0002"

--related-0002
Content-Type: multipart/alternative; boundary="alt-0003"

--alt-0003
Content-Type: text/plain; charset="utf-8"

Please find the invoice attached. The logo is inline.

--alt-0003
Content-Type: text/html; charset="utf-8"

<p>Please find the invoice attached.</p><img src="cid:logo@origin.example">

--alt-0003--

--related-0002
Content-Type: image/png; name="logo.png"
Content-Transfer-Encoding: base64
Content-ID: <logo@origin.example>
Content-Disposition: inline; filename="logo.png"

{b64(png)}
--related-0002--

--outer-0001
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

{b64(pdf)}
--outer-0001
Content-Type: text/csv; name="data.csv"
Content-Disposition: attachment; filename="data.csv"

a,b
1,2

--outer-0001--
""")

write("encoded-words.eml", """From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@origin.example>
To: "=?utf-8?q?Caf=C3=A9?= Team" <inbox@eu-customer.example>
Date: Mon, 23 Nov 2026 10:00:00 +0100
Message-ID: <ew@origin.example>
Subject: =?UTF-8?Q?Re:_Gr=C3=BC=C3=9Fe?= =?UTF-8?Q?_aus_M=C3=BCnchen?=
 =?ISO-8859-1?Q?_und_K=F6ln?= plain words =?utf-8?x?bad?= =?utf-8?b?4pyTIGRvbmU=?=
X-Mixed: =?koi8-r?B?8NLJ18XU?= and =?windows-1252?Q?=93quoted=94?=
Content-Type: text/plain; charset=us-ascii

Header test.
""")

write("latin1-quoted-printable.eml", HEAD + """Message-ID: <latin1@origin.example>
Subject: =?iso-8859-1?Q?R=E9sum=E9?=
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Bonjour Ren=E9e,=20
voici mon r=E9sum=E9 =E0 jour.=
 Merci =96 =A3100.
""")

write("windows-1251-8bit.eml", (HEAD + """Message-ID: <cp1251@origin.example>
Subject: =?windows-1251?B?z/Do4uXy?=
Content-Type: text/plain; charset=windows-1251
Content-Transfer-Encoding: 8bit

Привет! Как дела?
""").encode("cp1251"))

write("iso-8859-7-base64.eml", HEAD + f"""Message-ID: <greek@origin.example>
Subject: Greek
Content-Type: text/html; charset=ISO-8859-7
Content-Transfer-Encoding: base64

{b64("<p>Καλημέρα κόσμε</p>".encode("iso-8859-7"))}
""")

write("unknown-charset.eml", HEAD.encode() + b"""Message-ID: <unknown@origin.example>
Subject: Klingon
Content-Type: text/plain; charset=x-klingon
Content-Transfer-Encoding: 8bit

qapla\xff\xfe batlh
""")

write("missing-closing-boundary.eml", HEAD + """Message-ID: <cut@origin.example>
Subject: Cut off
Content-Type: multipart/mixed; boundary=XYZ

--XYZ
Content-Type: text/plain

first part
--XYZ
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAwQF
""")

write("boundary-not-found.eml", HEAD + """Message-ID: <noboundary@origin.example>
Subject: Wrong boundary
Content-Type: multipart/alternative; boundary="declared"

--actual
Content-Type: text/plain

text
--actual--
""")

write("missing-headers.eml", """Subject: no sender, no date, no id
Content-Type: text/plain

Body only.
""")

write("no-headers.eml", """Just a line of text without any header.
And another.
""")

received = "".join(f"Received: from relay{i}.example (relay{i}.example [198.51.100.{i % 250}])\n\tby relay{i + 1}.example with ESMTPS id {i:08x}; Mon, 23 Nov 2026 09:{i % 60:02d}:00 +0000\n" for i in range(400))
long_header = "X-Long: " + "\n ".join("token" + str(i) for i in range(4000)) + "\n"
write("huge-headers.eml", received + long_header + HEAD + """Message-ID: <huge@origin.example>
Subject: Many hops

Body after 400 Received headers and a 40 KB folded header.
""")

write("8bit-utf8-undeclared.eml", HEAD + """Message-ID: <8bit@origin.example>
Subject: 8-bit body, no charset
Content-Transfer-Encoding: 8bit

Zürich, São Paulo, 東京 — sent as UTF-8 without saying so.
""")

write("outlook-reply.eml", HEAD + """Message-ID: <outlook@origin.example>
Subject: RE: Contract
Thread-Topic: Contract
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Yes, please go ahead.

Regards,
Ann

From: Bob Builder <bob@x.example>=20
Sent: Monday, 23 November 2026 09:00
To: Ann Example <ann@origin.example>
Subject: Contract

Shall I sign it?
""")

write("gmail-reply-signature.eml", HEAD + """Message-ID: <CAGmail@mail.gmail.com>
Subject: Re: Lunch
In-Reply-To: <lunch@x.example>
References: <lunch@x.example>
Content-Type: text/plain; charset="UTF-8"

Thursday works for me.

--
Ann Example
Head of Numbers

On Mon, 23 Nov 2026 at 09:00, Bob Builder via Lunch List <
lunch@x.example> wrote:

> Who is in for lunch?
>
""")

write("rfc2231-continuations.eml", HEAD + """Message-ID: <2231@origin.example>
Subject: Long file name
Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: text/plain

See attachment.
--b1
Content-Type: application/octet-stream;
 name="=?UTF-8?Q?Gro=C3=9Fe_Datei.bin?="
Content-Disposition: attachment;
 filename*0*=UTF-8''Gro%C3%9Fe%20Datei%20mit%20einem%20sehr;
 filename*1*=%20langen%20Namen;
 filename*2=".bin"
Content-Transfer-Encoding: base64

SGVsbG8sIFdvcmxkIQ==
--b1--
""")

write("invalid-base64.eml", HEAD + """Message-ID: <badb64@origin.example>
Subject: Broken attachment
Content-Type: multipart/mixed; boundary=b2

--b2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

SGVsbG8g*V29y!bGQ=
--b2
Content-Type: application/octet-stream; name=x.bin
Content-Transfer-Encoding: base64

AAEC%%AwQ
--b2
Content-Type: text/plain; charset=utf-8; name=notes.txt
Content-Transfer-Encoding: quoted-printable

broken =ZZ escape =4
--b2--
""")

write("forwarded-rfc822.eml", HEAD + """Message-ID: <fwd@origin.example>
Subject: Fwd: Original
Content-Type: multipart/mixed; boundary="fwd"

--fwd
Content-Type: text/plain

Forwarding the original below.
--fwd
Content-Type: message/rfc822
Content-Disposition: inline

From: Bob <bob@x.example>
Subject: Original
Content-Type: text/plain

Original body.
--fwd--
""")

write("smtputf8-headers.eml", """From: Jürgen <jürgen@bücher.example>
To: inbox@eu-customer.example
Date: Mon, 23 Nov 2026 10:00:00 +0100
Message-ID: <utf8@bücher.example>
Subject: Bücher für alle 📚
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße!
""")

nest = HEAD + "Message-ID: <deep@origin.example>\nSubject: Deep\n"
for depth in range(20):
    nest += f"Content-Type: multipart/mixed; boundary=\"d{depth}\"\n\n--d{depth}\n"
nest += "Content-Type: text/plain\n\ndeep text\n"
for depth in reversed(range(20)):
    nest += f"--d{depth}--\n"
write("deep-nesting.eml", nest)

write("html-only-windows-1252.eml", HEAD.encode() + b"""Message-ID: <htmlonly@origin.example>
Subject: Newsletter
Content-Type: text/html; charset=windows-1252
Content-Transfer-Encoding: quoted-printable

<html><body><h1>=93Smart quotes=94 =80 5</h1></body></html>
""")
print("corpus written to", here)
