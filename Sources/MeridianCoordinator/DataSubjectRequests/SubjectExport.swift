import Foundation
import MeridianCore
import ZIPFoundation

/// The answer to an access or portability request: one ZIP with a summary for a person to read, the same
/// summary as JSON, and one JSON file per data class from the coordinator and from every node
/// (`eu/node-eu-1/message_metadata.json`). JSON is the portable, machine-readable form GDPR Art. 20 asks for.
enum SubjectExport {
    struct Part {
        var region: String
        var place: String
        var data: [String: JSONValue]
    }

    static func zip(_ ticket: DataSubjectRequestRecord, progress: [DirectiveAnswer], parts: [Part], service: ServiceProfile, at date: Date) throws -> Data {
        let archive = try Archive(accessMode: .create)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        func add(_ path: String, _ bytes: Data) throws {
            try archive.addEntry(
                with: path, type: .file, uncompressedSize: Int64(bytes.count), modificationDate: date, compressionMethod: .deflate
            ) { position, size in
                bytes.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        try add("summary.txt", Data(summaryText(ticket, progress: progress, service: service, at: date).utf8))
        try add("summary.json", try encoder.encode(Summary(ticket, progress: progress, at: date)))
        for part in parts {
            let folder = part.place == DirectiveAnswer.coordinator ? "coordinator" : "\(part.region)/\(part.place)"
            for (dataClass, value) in part.data.sorted(by: { $0.key < $1.key }) {
                try add("\(folder)/\(dataClass).json", try encoder.encode(value))
            }
        }
        guard let data = archive.data else { throw CoordinatorError(.exportNotWritten, "the ZIP could not be written") }
        return data
    }

    static func summaryText(_ ticket: DataSubjectRequestRecord, progress: [DirectiveAnswer], service: ServiceProfile, at date: Date) -> String {
        var lines = [
            "\(ticket.regulation.rawValue.uppercased()) \(ticket.type.rawValue) request \(ticket.id)",
            "Subject: \(ticket.subject.value) (\(ticket.subject.kind))",
            "Received: \(ISOTime.string(ticket.receivedAt)); due: \(ISOTime.string(ticket.dueAt)); exported: \(ISOTime.string(date))",
            "Controller: \(service.controller.name); data protection officer: \(service.dpo.email)",
            "",
            "What each place holds about the subject (records per data class; the files beside this one hold them in JSON):",
        ]
        for answer in progress {
            let place = answer.place == DirectiveAnswer.coordinator ? "coordinator (accounts, notices, requests)" : "region \(answer.region), node \(answer.place ?? "-")"
            lines.append("")
            lines.append("  \(place): answered \(answer.answeredAt.map(ISOTime.string) ?? "-")")
            if let signer = answer.signedBy { lines.append("    receipt signed by \(signer)") }
            for count in answer.classes {
                lines.append("    \(count.dataClass.replacingOccurrences(of: "_", with: " ")): \(count.found)")
            }
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }

    struct Summary: Encodable {
        struct Place: Encodable {
            var region: String
            var place: String?
            var answeredAt: Date?
            /// The node certificate's identity and serial the receipt was signed with (nil for the coordinator).
            var signedBy: String?
            var classes: [DataClassCount]
            enum CodingKeys: String, CodingKey { case region, place, answeredAt = "answered_at", signedBy = "signed_by", classes }
        }
        var requestID: String
        var type: String
        var regulation: String
        var subject: SubjectIdentity
        var receivedAt: Date
        var exportedAt: Date
        var places: [Place]

        init(_ ticket: DataSubjectRequestRecord, progress: [DirectiveAnswer], at date: Date) {
            requestID = ticket.id
            type = ticket.type.rawValue
            regulation = ticket.regulation.rawValue
            subject = ticket.subject
            receivedAt = ticket.receivedAt
            exportedAt = date
            places = progress.map { Place(region: $0.region, place: $0.place, answeredAt: $0.answeredAt, signedBy: $0.signedBy, classes: $0.classes) }
        }

        enum CodingKeys: String, CodingKey {
            case requestID = "request_id", type, regulation, subject, receivedAt = "received_at", exportedAt = "exported_at", places
        }
    }
}
