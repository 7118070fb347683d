import Foundation
import MeridianCore
import SQLKit

/// The coordinator's own part of a directive: what its database holds about the subject, found or erased like
/// a node's, with the legal holds said in the receipt.
///
/// For an address: the accounts it is the contact of, the notices sent to it, and its own requests. For an
/// account: the account, its DPAs and objections, its notices, its requests and its audit entries.
struct CoordinatorSubjectData: Sendable {
    let store: any SQLStore
    let catalog: RegionCatalog

    /// One class of the coordinator's data: the rows found, and whether an erasure deletes them or why it keeps them.
    private struct DataClass {
        var name: String
        var rows: [[String: JSONValue]]
        /// The statement that erases the rows; nil when they are kept.
        var erase: SQLQueryString?
        var holdReason: String?
    }

    func carryOut(_ directive: DataSubjectDirective, at date: Date) async throws -> (classes: [DataClassCount], data: [String: JSONValue]?) {
        try await store.transaction { db in
            let classes = try await self.classes(of: directive.subject, on: db)
            var counts: [DataClassCount] = []
            for data in classes {
                var count = DataClassCount(dataClass: data.name, found: data.rows.count)
                if directive.action == .erasure, !data.rows.isEmpty {
                    if let erase = data.erase {
                        try await db.raw(erase).run()
                        count.erased = data.rows.count
                    } else {
                        count.held = data.rows.count
                        count.holdReasons = data.holdReason.map { [$0] } ?? []
                    }
                }
                counts.append(count)
            }
            if directive.action == .erasure {
                let longest = catalog.regions.map(\.retention.backups).max().map(\.description) ?? "90d"
                var within = "within \(longest) (backups policy)"
                if case .customer = directive.subject, let retention = Backup.Retention(catalog) {
                    within = "within \(retention.deletedAccounts) of the account's deletion (deleted_customer_backups), and within \(longest) of this erasure at the latest"
                }
                counts.append(DataClassCount(dataClass: "backups", holdReasons: [
                    "backups made before this erasure keep the data until they are deleted, \(within); they are encrypted and restored only to recover from a failure",
                ]))
            }
            let payload = directive.action == .access
                ? Dictionary(uniqueKeysWithValues: classes.map { ($0.name, JSONValue.array($0.rows.map(JSONValue.object))) }) : nil
            return (counts, payload)
        }
    }

    private var accountability: String {
        "kept for accountability (GDPR Art. 5(2)): the record of the request and its outcome, without the erased data"
    }

    private var financialRecords: String {
        let longest = catalog.regions.map(\.retention.financialRecords).max().map(\.description) ?? "7y"
        return "financial and contractual records: kept \(longest) after the contract ends (financial_records in Regions/)"
    }

    private func classes(of subject: SubjectIdentity, on db: any SQLDatabase) async throws -> [DataClass] {
        switch subject {
        case .email(let address):
            return [
                DataClass(
                    name: "account_contacts",
                    rows: try await rows("SELECT id, name, contact_email, region, status, created_at FROM customers WHERE lower(contact_email) = \(bind: address)", on: db),
                    holdReason: "the contact address of an account, needed to run its contract: it goes when the account is purged, or when the customer names another contact"),
                try await notifications(where: "lower(recipient) = \(bind: address)", on: db),
                try await requests(of: subject, on: db),
            ]
        case .customer(let id):
            let account = try await rows("SELECT id, name, contact_email, region, status, created_at, closed_at, purge_after FROM customers WHERE id = \(bind: id)", on: db)
            let accountHold: String
            if case .number(let purge)? = account.first?["purge_after"] {
                accountHold = "a closed account stays reopenable until its purge on \(ISOTime.string(Timestamp.date(Int64(purge)))) (closed-account period); it is erased then"
            } else {
                accountHold = "the account is active: it is erased when it is closed and its closed-account period ends"
            }
            return [
                DataClass(name: "account", rows: account, holdReason: accountHold),
                DataClass(
                    name: "dpas",
                    rows: try await rows("SELECT id, dpa_version, signed_on, signatory, document_sha256, created_at FROM dpas WHERE customer_id = \(bind: id)", on: db),
                    holdReason: financialRecords),
                DataClass(
                    name: "objections",
                    rows: try await rows("SELECT id, subprocessor_id, reason, created_at, withdrawn_at FROM objections WHERE customer_id = \(bind: id)", on: db),
                    holdReason: financialRecords),
                try await notifications(where: "customer_id = \(bind: id)", on: db),
                try await requests(of: subject, on: db),
                DataClass(
                    name: "audit_log",
                    rows: try await rows("SELECT sequence, at_ms, actor_id, actor_role, action, target FROM audit_log WHERE target = \(bind: id) ORDER BY sequence", on: db),
                    holdReason: "the audit log is append-only and hash-chained; kept for accountability (GDPR Art. 5(2))"),
            ]
        }
    }

    /// The notices sent to the subject: erased.
    private func notifications(where condition: SQLQueryString, on db: any SQLDatabase) async throws -> DataClass {
        DataClass(
            name: "notifications",
            rows: try await rows("SELECT id, event_type, subject, status, created_at, sent_at FROM notifications WHERE \(condition)", on: db),
            erase: "DELETE FROM notifications WHERE \(condition)")
    }

    /// The subject's own requests: kept for accountability.
    private func requests(of subject: SubjectIdentity, on db: any SQLDatabase) async throws -> DataClass {
        DataClass(
            name: "data_subject_requests",
            rows: try await rows("""
                SELECT id, type, regulation, state, received_at, closed_at FROM gdpr_requests
                WHERE subject_kind = \(bind: subject.kind) AND subject = \(bind: subject.value)
                """, on: db),
            holdReason: accountability)
    }

    /// The rows of a query as JSON objects: text stays text, integers become numbers, times stay milliseconds.
    private func rows(_ query: SQLQueryString, on db: any SQLDatabase) async throws -> [[String: JSONValue]] {
        try await db.raw(query).all().map { row in
            var object: [String: JSONValue] = [:]
            for column in row.allColumns {
                // Integers first: SQLite would also read an integer as text.
                if let number = try? row.decode(column: column, as: Int64?.self) {
                    object[column] = .number(Double(number))
                } else if let text = try? row.decode(column: column, as: String?.self) {
                    object[column] = .string(text)
                } else {
                    object[column] = .null
                }
            }
            return object
        }
    }
}
