import ArgumentParser
import Foundation
import MeridianCore

/// `meridian message parse`: what the processing core makes of a raw message, without a node.
struct MessageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message", abstract: "Inspect raw messages with the processing core.", subcommands: [Parse.self])

    struct Parse: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the webhook payload (or, with --metadata, the metadata record) made of a raw message.",
            discussion: """
                FILE is an RFC 5322 message (.eml, or an mbox file holding one message); - reads standard input.
                The envelope is taken from the options, or else from the message's From: and To: headers.
                A message the parser cannot make sense of still gives a payload; meridian.flags in it says what
                was malformed.
                """)

        @Argument(help: "The raw message file, or - for standard input.") var file: String
        @Flag(help: "Print the metadata record the node would store instead of the payload.") var metadata = false
        @Flag(help: "Indent the JSON. Without it the output is byte for byte what the webhook receives.") var pretty = false
        @Option(help: "Envelope recipient (repeatable); the first is the one the payload is for.") var to: [String] = []
        @Option(help: "Envelope sender; empty for the null sender <>.") var from: String?
        @Option(help: "The HELO/EHLO name of the sending server.") var helo = "localhost"
        @Option(help: "The sending server's IP address.") var remoteIP = "127.0.0.1"
        @Option(help: "Metadata fields to leave out, comma-separated (\(MetadataField.allCases.map(\.rawValue).joined(separator: ", "))).")
        var redact: String?
        @Option(help: "The config version to record.") var configVersion: Int?

        func validate() throws {
            _ = try redactions()
            for address in to where SMTPMailbox(address) == nil {
                throw ValidationError("--to \(address) is not an address like user@example.com")
            }
            if let from, !from.isEmpty, SMTPMailbox(from) == nil {
                throw ValidationError("--from \(from) is not an address like user@example.com (use \"\" for the null sender)")
            }
            guard IPAddressMask(ipv4KeepOctets: 4, ipv6KeepHextets: 8).mask(remoteIP) != nil else {
                throw ValidationError("--remote-ip \(remoteIP) is not an IPv4 or IPv6 address")
            }
        }

        func run() throws {
            let raw = try readMessage()
            let message = MIMEMessage(parsing: raw)
            let envelope = makeEnvelope(message, size: raw.count)
            let output: [UInt8]
            if metadata {
                let record = MessageMetadata(
                    envelope: envelope, message: message, receivedAt: Date(), configVersion: configVersion,
                    redactions: try redactions())
                let encoder = JSONEncoder()
                encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
                encoder.dateEncodingStrategy = .iso8601
                output = Array(try encoder.encode(record))
            } else {
                output = WebhookPayload.encode(
                    envelope: envelope, message: message, content: MessageContent(message), configVersion: configVersion, pretty: pretty)
            }
            FileHandle.standardOutput.write(Data(output + [0x0A]))
        }

        private func readMessage() throws -> [UInt8] {
            if file == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
                throw ValidationError("\(file): no such file")
            }
            guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): not a readable file")
            }
            return Array(data)
        }

        private func makeEnvelope(_ message: MIMEMessage, size: Int) -> MessageEnvelope {
            let recipients = to.isEmpty ? headerAddresses(message, "To") : to
            return MessageEnvelope(
                to: recipients.first ?? "", recipients: recipients, from: from ?? headerAddresses(message, "From").first ?? "",
                heloDomain: helo, remoteIP: remoteIP, tls: nil, size: size)
        }

        /// The `addr-spec`s of an address header, read loosely: what sits in <...>, or the bare words with @.
        private func headerAddresses(_ message: MIMEMessage, _ name: String) -> [String] {
            guard let value = message.headers.first(named: name)?.value else { return [] }
            return value.split(separator: ",").compactMap { entry in
                if let open = entry.lastIndex(of: "<"), let close = entry.lastIndex(of: ">"), open < close {
                    return String(entry[entry.index(after: open)..<close])
                }
                return entry.split(separator: " ").first { $0.contains("@") }.map(String.init)
            }
        }

        private func redactions() throws -> Set<MetadataField> {
            guard let redact else { return [] }
            return try Set(redact.split(separator: ",").map { name in
                guard let field = MetadataField(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--redact \(name) is not a metadata field; use \(MetadataField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return field
            })
        }
    }
}
