import Foundation
import MeridianCore

/// The bearer token Prometheus scrapes the coordinator's `/metrics` with: `MERIDIAN_METRICS_TOKEN` (replicas share
/// it), else `DATA-DIR/metrics-token`, made owner-only on first start. Not an API token: it reads metrics only.
enum MetricsToken {
    static let fileName = "metrics-token"

    static func loadOrCreate(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let given = environment["MERIDIAN_METRICS_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines), !given.isEmpty {
            return given
        }
        let path = (dataDirectory as NSString).appendingPathComponent(fileName)
        if let kept = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !kept.isEmpty {
            return kept
        }
        let token = "mrm_" + Base64URL.random(bytes: 32)
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try PrivateFile.write(Data((token + "\n").utf8), to: path)
        return token
    }
}
