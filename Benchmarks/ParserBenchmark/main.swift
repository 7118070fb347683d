// Parser throughput: parse, extract the content and the metadata record, encode the webhook payload,
// for every message of a corpus directory, on one core. scripts/bench-parser runs it next to CPython's
// email package on the same files; docs/benchmarks.md has the figures.
//
//   parser-benchmark CORPUS_DIR [ROUNDS]
import Foundation
import MeridianCore

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: parser-benchmark CORPUS_DIR [ROUNDS]\n".utf8))
    exit(2)
}
let directory = URL(fileURLWithPath: arguments[1])
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".eml") }.sorted()
let messages = try names.map { try [UInt8](Data(contentsOf: directory.appendingPathComponent($0))) }
let totalBytes = messages.reduce(0) { $0 + $1.count }
let receivedAt = Date()

var seconds: [Double] = []
var checksum = 0
for round in 1...rounds {
    let start = DispatchTime.now().uptimeNanoseconds
    for raw in messages {
        let message = MIMEMessage(parsing: raw)
        let content = MessageContent(message)
        let envelope = MessageEnvelope(
            to: "inbox@eu-customer.example", recipients: ["inbox@eu-customer.example"], from: "sender@origin.example",
            heloDomain: "mail.origin.example", remoteIP: "192.0.2.10", tls: SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384"),
            size: raw.count)
        let metadata = MessageMetadata(envelope: envelope, message: message, receivedAt: receivedAt, configVersion: 1, redactions: [.subject])
        let payload = WebhookPayload.encode(envelope: envelope, message: message, content: content, configVersion: 1)
        checksum &+= payload.count &+ metadata.size
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    seconds.append(elapsed)
    FileHandle.standardError.write(Data("round \(round)/\(rounds): \(String(format: "%.3f", elapsed)) s\n".utf8))
}
let median = seconds.sorted()[seconds.count / 2]
print(String(format: "{\"messages\": %d, \"bytes\": %d, \"median_seconds\": %.4f, \"mb_per_s\": %.1f, \"messages_per_s\": %.0f, \"checksum\": %d}",
             messages.count, totalBytes, median, Double(totalBytes) / 1e6 / median, Double(messages.count) / median, checksum))
