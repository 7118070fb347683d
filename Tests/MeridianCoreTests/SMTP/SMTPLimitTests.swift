import MeridianCore
import Testing

@Suite("SMTP session: limits and hostile input")
struct SMTPLimitTests {
    @Test func commandLineOf512OctetsIsTheLimit() {
        var transcript = SMTPTranscript()
        let fits = "NOOP " + String(repeating: "x", count: 512 - 7) + "\r\n"
        #expect(fits.utf8.count == 512)
        #expect(transcript.send(fits) == ["250 2.0.0"])
        #expect(transcript.send("NOOP " + String(repeating: "x", count: 512 - 6) + "\r\n") == ["500 5.5.2"])
        // A long line that arrives without its end is refused once, and the rest of it is skipped.
        #expect(transcript.send(String(repeating: "y", count: 600)) == ["500 5.5.2"])
        #expect(transcript.send(String(repeating: "y", count: 600)) == [])
        #expect(transcript.send("yyy\r\nNOOP\r\n") == ["250 2.0.0"])
    }

    @Test func bareLineFeedInACommandIsRefused() {
        var transcript = SMTPTranscript()
        #expect(transcript.send("EHLO c.example\n") == ["500 5.5.2"])
    }

    @Test func textLineOf1000OctetsIsTheLimit() {
        var transcript = SMTPTranscript()
        transcript.openTransaction()
        transcript.send("DATA\r\n")
        #expect(transcript.send(String(repeating: "a", count: 998) + "\r\n.\r\n") == ["250 2.0.0"])
        transcript.openTransaction()
        transcript.send("DATA\r\n")
        #expect(transcript.send(String(repeating: "a", count: 999) + "\r\n.\r\n") == ["500 5.5.2"])
        #expect(transcript.messages.count == 1)
    }

    @Test func messageSizeLimitBothDeclaredAndActual() {
        var transcript = SMTPTranscript { $0.maxMessageSize = 100 }
        transcript.send("EHLO c.example\r\n")
        #expect(transcript.send("MAIL FROM:<a@o.example> SIZE=101\r\n") == ["552 5.3.4"])
        transcript.openTransaction(parameters: " SIZE=50")
        transcript.send("DATA\r\n")
        let big = String(repeating: String(repeating: "z", count: 60) + "\r\n", count: 2)
        #expect(transcript.send(big + ".\r\n") == ["552 5.3.4"])
        #expect(transcript.messages.isEmpty)
        transcript.openTransaction()
        #expect(transcript.send("BDAT 101 LAST\r\n" + String(repeating: "b", count: 101)) == ["552 5.3.4"])
        #expect(transcript.messages.isEmpty)
    }

    @Test func recipientsPerMessage() {
        var transcript = SMTPTranscript { $0.maxRecipients = 3 }
        transcript.send("EHLO c.example\r\nMAIL FROM:<a@o.example>\r\n")
        let replies = (1...4).flatMap { transcript.send("RCPT TO:<r\($0)@eu-customer.example>\r\n") }
        #expect(replies == ["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"])
        #expect(transcript.send("RCPT TO:<r1@eu-customer.example>\r\n") == ["250 2.1.5"], "a repeated recipient is not counted twice")
    }

    @Test func tooManyErrorsCloseTheSession() {
        var transcript = SMTPTranscript { $0.maxErrors = 3 }
        #expect(transcript.send("FROB\r\nFROB\r\nFROB\r\nNOOP\r\n") == ["500 5.5.1", "500 5.5.1", "421 4.7.0"])
        #expect(transcript.closed)
        #expect(transcript.send("NOOP\r\n") == [])
    }

    @Test func unknownRecipientsCountAsErrorsAgainstHarvesting() {
        var transcript = SMTPTranscript { $0.maxErrors = 3 }
        transcript.send("EHLO c.example\r\nMAIL FROM:<a@o.example>\r\n")
        let replies = transcript.send("RCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\n")
        #expect(replies == ["550 5.1.1", "550 5.1.1", "421 4.7.0"])
    }

    /// SMTP smuggling (SEC Consult, 2023): `<LF>.<CR><LF>` must not end the message, or the text after it
    /// would be read as a second, forged transaction.
    @Test func smugglingWithLFDotCRLFIsRefusedAsOneMessage() {
        var transcript = SMTPTranscript()
        transcript.openTransaction()
        transcript.send("DATA\r\n")
        let smuggled = "Subject: real\r\n\r\nbody\n.\r\nMAIL FROM:<ceo@bank.example>\r\nRCPT TO:<inbox@eu-customer.example>\r\nDATA\r\nforged\r\n.\r\n"
        #expect(transcript.send(smuggled) == ["550 5.6.0"])
        #expect(transcript.messages.isEmpty, "neither the real nor the forged message is accepted")
        #expect(transcript.send("NOOP\r\n") == ["250 2.0.0"], "the session is back in command mode")
    }

    @Test func otherBareLineEndingsNeverEndTheMessage() {
        let expected = ["\n.\n": "550 5.6.0", "\r.\r\n": "250 2.0.0", "\r\n.\n": "550 5.6.0", "\n.\r\n": "550 5.6.0"]
        for (ending, reply) in expected {
            var transcript = SMTPTranscript()
            transcript.openTransaction()
            transcript.send("DATA\r\n")
            #expect(transcript.send("text\(ending)more\r\n") == [], "\(ending.debugDescription) is not an end of data")
            #expect(transcript.send(".\r\n") == [reply], "a bare CR is data; a bare LF refuses the message")
        }
    }

    @Test func oversizeContentIsNotKeptInMemory() {
        var transcript = SMTPTranscript { $0.maxMessageSize = 1000 }
        transcript.openTransaction()
        transcript.send("DATA\r\n")
        for _ in 0..<100 { transcript.send(String(repeating: "q", count: 500) + "\r\n") }
        #expect(transcript.send(".\r\n") == ["552 5.3.4"])
    }
}
