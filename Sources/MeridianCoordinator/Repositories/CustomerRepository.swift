import Foundation
import MeridianCore

/// Customer accounts, their domains and their region history. Every change is audited in its transaction.
public protocol CustomerRepository: Sendable {
    func create(_ customer: CustomerRecord, by actor: AuditActor) async throws
    func find(_ id: String) async throws -> CustomerRecord?
    /// Accounts in id (creation) order after `cursor`, optionally only some ids or one status.
    func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord]
    func update(_ id: String, _ changes: CustomerChanges, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    func setRegion(_ id: String, to region: RegionID?, reason: String?, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    func regionHistory(_ id: String) async throws -> [RegionChange]
    func close(_ id: String, at: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord
    func reopen(_ id: String, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    /// Replaces the webhook secret; the old one keeps signing until `overlapUntil`, or stops at once when nil.
    func rotateWebhookSecret(_ id: String, to sealed: String, overlapUntil: Date?, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    /// Replaces the account's filtering policy (spam, viruses, DMARC, scanner failures).
    func setFiltering(_ id: String, to policy: FilteringPolicy, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    /// Drops the previous webhook secrets whose overlap has ended; returns the accounts changed.
    func expirePreviousSecrets(at: Date, by actor: AuditActor) async throws -> [String]
    /// Stores a domain's ownership proof after a check or an operator's verification, with its audit entry and notice.
    func saveDomainProof(
        _ customerID: String, _ domain: CustomerDomain, event: DomainProofCheck.Event?, detail: [String: String], notices: [Notification],
        at: Date, by actor: AuditActor
    ) async throws -> CustomerRecord
    /// Every active account with its domains, in id order: what the config compiler reads.
    func allActive() async throws -> [CustomerRecord]
    /// Deletes every closed account whose purge date has passed; returns their ids.
    func purgeClosed(dueBy: Date, by actor: AuditActor) async throws -> [String]
}
