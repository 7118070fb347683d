import Foundation
import Logging
import MeridianCoordinator
import MeridianCore
import SQLKit

/// Writes `count` active customers straight into a stopped coordinator's SQLite database (`<data>/coordinator.sqlite`),
/// their webhook secrets sealed with its master key, their domains proved: what a coordinator with that many
/// customers holds, made in seconds rather than through a million API calls. The same mix as the in-memory
/// benchmark: a quarter pinned to each region of `catalog`, the rest unpinned, one or two domains each. For the
/// propagation benchmark only: no audit entries are written for them.
func seed(dataDirectory: String, count: Int, catalog: RegionCatalog) async throws {
    let secrets = try MasterKey.load(dataDirectory: dataDirectory)
    let store = try await SQLiteStore.open(path: dataDirectory + "/coordinator.sqlite", logger: Logger(label: "seed"))
    let pins: [String?] = catalog.regions.map(\.id.rawValue) + [nil]
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let batch = 5_000
    for start in stride(from: 0, to: count, by: batch) {
        let range = start..<min(start + batch, count)
        let sealed = try range.map { _ in try secrets.seal(WebhookSecret.generate()) }
        try await store.transaction { db in
            // 14 columns a customer, 7 a domain: well under SQLite's 32,766 bound parameters a statement.
            for chunk in stride(from: range.lowerBound, to: range.upperBound, by: 1_000) {
                let ids = chunk..<min(chunk + 1_000, range.upperBound)
                var customers = SQLQueryString("""
                    INSERT INTO customers (id, name, contact_email, region, webhook_url, webhook_mode, webhook_secret_sealed,
                        post_format, webhook_credentials_sealed, events_url, metadata_redactions, status, created_at, updated_at) VALUES
                    """)
                var domains = SQLQueryString(
                    "INSERT INTO customer_domains (domain, customer_id, verification_token, added_at, state, verified_at, verified_by) VALUES ")
                for index in ids {
                    let id = String(format: "cus_seed%08d", index)
                    let separator = index == ids.lowerBound ? "" : ","
                    customers.appendLiteral(separator)
                    customers += SQLQueryString("""
                        (\(bind: id), \(bind: "Customer \(index)"), \(bind: "ops@customer\(index).example"), \(bind: pins[index % pins.count]),
                        \(bind: "https://hooks.customer\(index).example/meridian"), \(bind: index % 3 == 0 ? "sync" : "queued"),
                        \(bind: sealed[index - range.lowerBound]), NULL, NULL, NULL, \(bind: index % 5 == 0 ? "subject" : ""), 'active',
                        \(bind: now), \(bind: now))
                        """)
                    for domain in 0..<(index % 2 + 1) {
                        domains.appendLiteral(separator.isEmpty && domain == 0 ? "" : ",")
                        domains += SQLQueryString("""
                            (\(bind: "d\(domain).customer\(index).example"), \(bind: id), \(bind: "t\(index)"), \(bind: now), 'verified', \(bind: now), 'seed')
                            """)
                    }
                }
                try await db.raw(customers).run()
                try await db.raw(domains).run()
            }
        }
        if (start / batch) % 20 == 0 { FileHandle.standardError.write(Data("seed: \(range.upperBound) of \(count) customers\n".utf8)) }
    }
    try await store.close()
}
