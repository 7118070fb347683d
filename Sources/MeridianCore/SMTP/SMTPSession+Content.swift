// Reading message content: DATA (dot-stuffed text) and BDAT (binary chunks).
extension SMTPSession {
    /// Reads DATA content up to `CRLF.CRLF`, unstuffing dots. Returns false when more input is needed.
    ///
    /// Only CRLF ends a line. After a bare LF the next `.` is not at a line start, so `<LF>.<CR><LF>` can
    /// never end the message (SMTP smuggling); the message is refused at its real end instead.
    mutating func readText(_ events: inout [SMTPSessionEvent]) -> Bool {
        while inputStart < input.count {
            if text.atLineStart && input[inputStart] == 0x2E {
                guard input.count - inputStart >= 3 else { return false }
                if input[inputStart + 1] == 0x0D && input[inputStart + 2] == 0x0A {
                    inputStart += 3
                    finishText(&events)
                    return true
                }
                inputStart += 1
                text.lineLength += 1
            }
            text.atLineStart = false
            let newline = input.firstIndex(of: 0x0A, from: inputStart)
            let end = newline.map { $0 + 1 } ?? input.count
            append(input[inputStart..<end])
            text.lineLength += end - inputStart
            if let newline {
                let endsWithCR = newline > inputStart ? input[newline - 1] == 0x0D : text.previousWasCR
                if endsWithCR {
                    if text.lineLength > SMTPSessionConfiguration.textLineLimit { text.lineTooLong = true }
                    text.atLineStart = true
                } else {
                    text.bareLineFeed = true
                }
                text.lineLength = 0
                text.previousWasCR = false
            } else {
                if text.lineLength > SMTPSessionConfiguration.textLineLimit { text.lineTooLong = true }
                text.previousWasCR = input[end - 1] == 0x0D
            }
            inputStart = end
        }
        return false
    }

    mutating func append(_ bytes: ArraySlice<UInt8>) {
        guard let current = draft, !current.oversize else { return }
        if current.data.count + bytes.count > configuration.maxMessageSize {
            draft?.oversize = true
            draft?.data = []
        } else {
            draft?.data.append(contentsOf: bytes)
        }
    }

    mutating func finishText(_ events: inout [SMTPSessionEvent]) {
        phase = .command
        if text.bareLineFeed {
            refuseContent(SMTPReply(550, "5.6.0", "Message refused: it contains a bare LF; lines must end in CRLF (RFC 5321 section 2.3.8)"), &events)
        } else if draft?.oversize == true {
            refuseContent(oversizeReply, &events)
        } else if text.lineTooLong {
            refuseContent(SMTPReply(500, "5.5.2", "Message refused: a line is longer than 1000 octets (RFC 5321 section 4.5.3.1.6)"), &events)
        } else {
            deliver(&events)
        }
    }

    var oversizeReply: SMTPReply {
        SMTPReply(552, "5.3.4", "Message refused: it is larger than the limit of \(configuration.maxMessageSize) octets")
    }

    mutating func refuseContent(_ reply: SMTPReply, _ events: inout [SMTPSessionEvent]) {
        draft = nil
        fail(reply, &events)
    }

    mutating func deliver(_ events: inout [SMTPSessionEvent]) {
        guard let draft, let greeting else { return }
        phase = .awaitingMessageReply
        events.append(.message(SMTPTransaction(
            remoteAddress: remoteAddress, helo: greeting.domain, tls: tls, from: draft.from, parameters: draft.parameters,
            recipients: draft.recipients, data: draft.data
        )))
    }

    /// Reads a BDAT chunk (RFC 3030): exactly `remaining` octets, no dot-stuffing, no line rules.
    mutating func readChunk(remaining: Int, last: Bool, accepted: Bool, _ events: inout [SMTPSessionEvent]) -> Bool {
        let take = min(remaining, input.count - inputStart)
        if accepted { append(input[inputStart..<(inputStart + take)]) }
        inputStart += take
        let left = remaining - take
        guard left == 0 else {
            phase = .chunk(remaining: left, last: last, accepted: accepted)
            return false
        }
        phase = .command
        guard accepted else {
            fail(noContentReply(chunking: true), &events)
            return true
        }
        if draft?.oversize == true {
            refuseContent(oversizeReply, &events)
        } else if last {
            deliver(&events)
        } else {
            events.append(.reply(SMTPReply(250, "2.0.0", "\(draft?.data.count ?? 0) octets received")))
        }
        return true
    }
}
