import Foundation
import Logging
import MeridianCore

/// Deletes closed accounts whose closed-account period has ended (a `PeriodicJob`, hourly). Each purge
/// opens an erasure ticket for the account, so its data in every region goes by the same directives as a data
/// subject's (``DirectiveDispatcher``), with receipts.
public struct AccountRetentionJob: Sendable {
    let customers: any CustomerRepository
    let requests: DataSubjectRequestRepository
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        customers: any CustomerRepository, requests: DataSubjectRequestRepository, now: @escaping @Sendable () -> Date,
        logger: Logger
    ) {
        self.customers = customers
        self.requests = requests
        self.now = now
        self.logger = logger
    }

    /// One pass: purges what is due now and returns the purged account ids.
    public func runOnce() async throws -> [String] {
        let date = now()
        let purged = try await customers.purgeClosed(dueBy: date, by: .system("retention"))
        for id in purged {
            let ticket = DataSubjectRequestRecord(
                id: ResourceID.make(prefix: "dsr", at: date), type: .erasure, regulation: .gdpr, subject: .customer(id), state: .inProgress,
                receivedAt: date, dueAt: Regulation.gdpr.due(receivedAt: date), extended: false, extensionReason: nil,
                verificationMethod: "account_closure", stateReason: "the closed-account period ended; the account's data is erased in every region",
                notes: nil, createdBy: "system:retention", updatedAt: date, closedAt: nil)
            try await requests.create(ticket, code: nil, by: .system("retention"))
        }
        if !purged.isEmpty {
            logger.info("purged closed accounts", metadata: ["count": "\(purged.count)"])
        }
        return purged
    }
}
