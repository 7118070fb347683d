import MeridianCore
import Testing

@Suite("SMTP session: commands and replies")
struct SMTPSessionTests {
    @Test func greetingAndEHLOAdvertiseTheExtensions() {
        var transcript = SMTPTranscript { $0.tlsAvailable = true }
        #expect(transcript.session.greetingReply.encoded == Array("220 meridian.test ESMTP Meridian\r\n".utf8))
        #expect(transcript.send("EHLO client.example\r\n") == ["250"])
        let lines = transcript.lastReplies[0].lines
        #expect(lines.first == "meridian.test Hello client.example")
        for keyword in ["PIPELINING", "SIZE 26214400", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"] {
            #expect(lines.contains(keyword), "EHLO should advertise \(keyword)")
        }
        #expect(transcript.lastReplies[0].description.hasPrefix("250-meridian.test Hello client.example\r\n250-PIPELINING\r\n"))
        #expect(transcript.lastReplies[0].description.hasSuffix("250 STARTTLS\r\n"))
    }

    @Test func aWholeTransaction() throws {
        var transcript = SMTPTranscript()
        #expect(transcript.send("EHLO client.example\r\n") == ["250"])
        #expect(transcript.send("MAIL FROM:<sender@origin.example> SIZE=120 BODY=8BITMIME\r\n") == ["250 2.1.0"])
        #expect(transcript.send("RCPT TO:<inbox@eu-customer.example>\r\n") == ["250 2.1.5"])
        #expect(transcript.send("DATA\r\n") == ["354"])
        #expect(transcript.send("Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\n") == ["250 2.0.0"])
        #expect(transcript.send("QUIT\r\n") == ["221 2.0.0"])
        #expect(transcript.closed)
        let message = try #require(transcript.messages.first)
        #expect(message.data == Array("Subject: hi\r\n\r\n.leading dot\r\nbody\r\n".utf8), "dots are unstuffed")
        #expect(message.from == SMTPMailbox(localPart: "sender", domain: "origin.example"))
        #expect(message.recipients.map(\.customer) == ["cus_eu"])
        #expect(message.helo == "client.example")
        #expect(message.remoteAddress == "192.0.2.10")
        #expect(message.parameters.size == 120 && message.parameters.body == .eightBitMIME)
    }

    @Test func pipelinedCommandsAreAnsweredInOrderInOneBatch() {
        var transcript = SMTPTranscript()
        let replies = transcript.send(
            "EHLO client.example\r\nMAIL FROM:<a@origin.example>\r\nRCPT TO:<x@eu-customer.example>\r\n"
                + "RCPT TO:<nobody@unknown.example>\r\nRCPT TO:<y@us-customer.example>\r\nDATA\r\n"
                + "Subject: piped\r\n\r\nhello\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<z@eu-customer.example>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n"
        )
        #expect(replies == ["250", "250 2.1.0", "250 2.1.5", "550 5.1.1", "451 4.7.1", "354", "250 2.0.0",
                            "250 2.1.0", "250 2.1.5", "354", "250 2.0.0", "221 2.0.0"])
        #expect(transcript.messages.count == 2)
        #expect(transcript.messages[1].from == nil, "the null reverse path")
        #expect(transcript.messages[0].recipients.map(\.mailbox.description) == ["x@eu-customer.example"])
    }

    @Test func inputSplitAtEveryByteGivesTheSameResult() {
        let session = "EHLO c.example\r\nMAIL FROM:<a@o.example>\r\nRCPT TO:<x@eu-customer.example>\r\nDATA\r\n"
            + "A: b\r\n\r\n.x\r\n..\r\nend\r\n.\r\nQUIT\r\n"
        var whole = SMTPTranscript()
        let wholeReplies = whole.send(session)
        var split = SMTPTranscript()
        var splitReplies: [String] = []
        for byte in session.utf8 { splitReplies += split.send([byte]) }
        #expect(splitReplies == wholeReplies)
        #expect(split.messages.map(\.data) == whole.messages.map(\.data))
        #expect(whole.messages.first?.data == Array("A: b\r\n\r\nx\r\n.\r\nend\r\n".utf8))
    }

    @Test func pinnedRecipientIsRefusedBeforeAnyContentNamingTheRightMXHost() {
        var transcript = SMTPTranscript()
        transcript.send("EHLO c.example\r\nMAIL FROM:<a@o.example>\r\n")
        #expect(transcript.send("RCPT TO:<someone@us-customer.example>\r\n") == ["451 4.7.1"])
        #expect(transcript.lastReplies[0].lines[0].contains("us.mx.meridian.example"))
        #expect(transcript.lastReplies[0].lines[0].contains("region us"))
        #expect(transcript.send("DATA\r\n") == ["554 5.5.1"], "no content is taken without an accepted recipient")
        #expect(transcript.messages.isEmpty)
    }

    @Test func commandsOutOfSequence() {
        var transcript = SMTPTranscript()
        #expect(transcript.send("MAIL FROM:<a@o.example>\r\n") == ["503 5.5.1"])
        #expect(transcript.send("HELO c.example\r\n") == ["250"])
        #expect(transcript.send("RCPT TO:<x@eu-customer.example>\r\n") == ["503 5.5.1"])
        #expect(transcript.send("DATA\r\n") == ["503 5.5.1"])
        #expect(transcript.send("MAIL FROM:<a@o.example> SIZE=10\r\n") == ["555 5.5.4"], "parameters need EHLO")
        #expect(transcript.send("MAIL FROM:<a@o.example>\r\n") == ["250 2.1.0"])
        #expect(transcript.send("MAIL FROM:<a@o.example>\r\n") == ["503 5.5.1"], "nested MAIL")
        #expect(transcript.send("RSET\r\nMAIL FROM:<a@o.example>\r\n") == ["250 2.0.0", "250 2.1.0"])
    }

    @Test func syntaxErrorsAndSmallCommands() {
        var transcript = SMTPTranscript { $0.maxErrors = 50 }
        #expect(transcript.send("EHLO\r\n") == ["501 5.5.4"])
        #expect(transcript.send("EHLO c.example\r\n") == ["250"])
        #expect(transcript.send("FROB\r\n") == ["500 5.5.1"])
        #expect(transcript.send("MAIL TO:<a@o.example>\r\n") == ["501 5.5.4"])
        #expect(transcript.send("MAIL FROM:a@o.example\r\n") == ["501 5.1.7"])
        #expect(transcript.send("MAIL FROM:<a@@o.example>\r\n") == ["501 5.1.7"])
        #expect(transcript.send("MAIL FROM:<a@o.example> BODY=BINARYMIME\r\n") == ["555 5.5.4"])
        #expect(transcript.send("MAIL FROM:<a@o.example> SIZE=ten\r\n") == ["501 5.5.4"])
        #expect(transcript.send("MAIL FROM:<a@o.example> X-FOO=1\r\n") == ["555 5.5.4"])
        #expect(transcript.send("VRFY someone\r\n") == ["252 2.5.0"])
        #expect(transcript.send("EXPN list\r\n") == ["502 5.5.1"])
        #expect(transcript.send("NOOP\r\nHELP\r\n") == ["250 2.0.0", "214 2.0.0"])
        #expect(transcript.send("STARTTLS\r\n") == ["502 5.5.1"], "no certificate configured")
    }

    @Test func addressForms() throws {
        var transcript = SMTPTranscript()
        transcript.send("EHLO c.example\r\n")
        #expect(transcript.send("mail from: <@relay.example:a@o.example>\r\n") == ["250 2.1.0"], "source route ignored, verbs any case")
        #expect(transcript.send("RCPT TO:<\"odd local\"@EU-Customer.example>\r\n") == ["250 2.1.5"])
        #expect(transcript.send("RCPT TO:<Postmaster>\r\n") == ["250 2.1.5"])
        #expect(transcript.send("RCPT TO:<x@eu-customer.example> NOTIFY=NEVER\r\n") == ["555 5.5.4"])
        #expect(transcript.send("RCPT TO:<>\r\n") == ["501 5.1.3"])
        #expect(transcript.send("RCPT TO:<ü@eu-customer.example>\r\n") == ["553 5.6.7"], "UTF-8 needs SMTPUTF8")
        transcript.send("DATA\r\nx\r\n.\r\n")
        let message = try #require(transcript.messages.first)
        #expect(message.recipients.map(\.mailbox.description) == ["\"odd local\"@eu-customer.example", "postmaster@meridian.test"])
        #expect(transcript.send("MAIL FROM:<ö@o.example> SMTPUTF8\r\nRCPT TO:<ü@eu-customer.example>\r\n") == ["250 2.1.0", "250 2.1.5"])
    }

    @Test func startTLSDiscardsInjectedPlaintextAndResetsTheSession() {
        var transcript = SMTPTranscript { $0.tlsAvailable = true }
        transcript.send("EHLO c.example\r\n")
        #expect(transcript.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n") == ["220 2.0.0"])
        #expect(transcript.startedTLS)
        #expect(transcript.send("NOOP\r\n") == [], "nothing is read until the handshake is done")
        _ = transcript.session.tlsEstablished(SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"))
        #expect(transcript.send("MAIL FROM:<a@o.example>\r\n") == ["503 5.5.1"], "EHLO again after TLS (RFC 3207 4.2)")
        #expect(transcript.send("EHLO c.example\r\n") == ["250"])
        #expect(!transcript.lastReplies[0].lines.contains("STARTTLS"))
        #expect(transcript.send("STARTTLS\r\n") == ["503 5.5.1"])
        transcript.send("MAIL FROM:<a@o.example>\r\nRCPT TO:<x@eu-customer.example>\r\nDATA\r\nhi\r\n.\r\n")
        #expect(transcript.messages.first?.tls == SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"))
    }

    @Test func chunkingWithBDAT() throws {
        var transcript = SMTPTranscript()
        transcript.openTransaction()
        #expect(transcript.send("BDAT 12\r\nSubject: a\r\n") == ["250 2.0.0"])
        #expect(transcript.send("BDAT 9 LAST\r\n\r\n.\nbin\r\n") == ["250 2.0.0"])
        let message = try #require(transcript.messages.first)
        #expect(message.data == Array("Subject: a\r\n\r\n.\nbin\r\n".utf8), "BDAT content is binary: no unstuffing, no line rules")
        #expect(transcript.send("BDAT 3 LAST\r\nabc") == ["503 5.5.1"], "the chunk is consumed, then refused")
        #expect(transcript.send("NOOP\r\n") == ["250 2.0.0"])
        transcript.openTransaction()
        #expect(transcript.send("BDAT 2\r\nab") == ["250 2.0.0"])
        #expect(transcript.send("DATA\r\n") == ["503 5.5.1"])
    }
}
