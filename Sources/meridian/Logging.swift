import Foundation
import Logging
import MeridianCore

/// The logger every command uses. The first call installs ``MeridianLogHandler`` for the process:
/// `LOG_LEVEL` (trace … critical, default info) and `MERIDIAN_LOG_FORMAT` (`text`, the default, or `json`).
func makeLogger(label: String) -> Logger {
    _ = MeridianLogHandler.installed
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// Writes log records to standard error as text or as one JSON object per line, with their metadata (the
/// coordinator's `hb.request.id`, a node's `message` or `delivery` id). IP addresses under the keys
/// ``addressKeys`` are masked as DESIGN.md masks analytics data (IPv4 keeps 2 octets, IPv6 keeps 3 hextets), at
/// once: process logs never hold a whole client address.
struct MeridianLogHandler: LogHandler {
    enum Format: String { case text, json }

    static let installed: Void = {
        let format = ProcessInfo.processInfo.environment["MERIDIAN_LOG_FORMAT"].flatMap(Format.init(rawValue:)) ?? .text
        LoggingSystem.bootstrap { label in MeridianLogHandler(label: label, format: format) }
    }()

    /// Metadata keys whose values are client IP addresses.
    static let addressKeys: Set<String> = ["remote_ip", "client_ip", "sender_ip"]
    static let mask = IPAddressMask(ipv4KeepOctets: 2, ipv6KeepHextets: 3)
    private static let output = FileHandle.standardError
    private static let lock = NSLock()

    let label: String
    let format: Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: Format) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = Self.masked(merged)
        let time = ISOTime.string(Date())
        let line: String
        switch format {
        case .text:
            let rendered = fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(time) \(event.level) \(label):\(rendered.isEmpty ? "" : " " + rendered) [\(event.source)] \(event.message)\n"
        case .json:
            var object: [String: Any] = ["time": time, "level": event.level.rawValue, "label": label, "message": "\(event.message)"]
            if !fields.isEmpty { object["metadata"] = fields }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            line = String(decoding: data, as: UTF8.self) + "\n"
        }
        Self.lock.lock()
        Self.output.write(Data(line.utf8))
        Self.lock.unlock()
    }

    /// The metadata as text, with client addresses masked.
    static func masked(_ metadata: Logger.Metadata) -> [String: String] {
        var fields: [String: String] = [:]
        for (key, value) in metadata {
            let text = "\(value)"
            fields[key] = addressKeys.contains(key) ? (mask.mask(text) ?? "invalid") : text
        }
        return fields
    }
}
