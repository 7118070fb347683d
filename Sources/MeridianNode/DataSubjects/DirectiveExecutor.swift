import Crypto
import Foundation
import Logging
import MeridianCore

/// GDPR and CCPA directives from the coordinator (`POST /v1/directives` on the control API): find or erase a
/// data subject's messages in this node's three data classes, and answer with a receipt.
///
/// * `message_metadata`: the deliveries naming the subject's address as envelope sender or recipient (or the
///   customer's, for an account), and writes of them the database refused and the store set aside;
/// * `delivery_logs`: the attempts of those deliveries;
/// * `spooled_messages`: messages still waiting in the spool whose sender or a recipient is the subject;
/// * `quarantined_messages`: held messages whose sender or a recipient is the subject (or the customer's);
/// * `smtp_protocol_logs`: sessions whose commands name the subject's address. They are kept for the security
///   of the service for their period and are never erased on request; the receipt says so.
///
/// Process logs name deliveries by message id, never by address, so they hold nothing to erase.
public struct DirectiveExecutor: Sendable {
    /// The coordinator's key, which signs directives; without one the node takes none.
    let trustedKey: Curve25519.Signing.PublicKey
    let region: Region
    let nodeID: String
    /// Where the node records its accounts' erasures for its backups (`AccountErasures`).
    let dataDirectory: String
    let spool: Spool
    let store: MetadataStore
    let queue: DeliveryQueue
    let quarantine: Quarantine
    let protocolLog: SMTPProtocolLog
    let logger: Logger
    let now: @Sendable () -> Date

    /// Checks the directive's signature and expiry, then carries it out. Errors are the reason for refusing it:
    /// a ``CoreError`` (key, signature, expiry).
    public func carryOut(_ signed: SignedDirective) async throws -> DirectiveReceipt {
        let directive = try signed.verify(with: trustedKey, at: now())
        let receipt = try await carryOut(directive)
        logger.notice(
            "gdpr: carried out a directive", metadata: ["request": "\(directive.requestID)", "action": "\(directive.action.rawValue)"])
        return receipt
    }

    func carryOut(_ directive: DataSubjectDirective) async throws -> DirectiveReceipt {
        let held = Dictionary(directive.holds.map { ($0.customerID, $0.reason) }, uniquingKeysWith: { first, _ in first })
        let spooled = try spooledMessages(of: directive.subject)
        let quarantined = quarantine.messages(of: directive.subject)
        let sessions: [SMTPProtocolRecord] =
            if case .email(let address) = directive.subject {
                protocolLog.read(since: nil, until: nil, clientIP: nil, address: address, limit: 100_000)
            } else {
                []
            }
        var receipt = DirectiveReceipt(
            requestID: directive.requestID, action: directive.action, region: region.id.rawValue, node: nodeID, completedAt: now(),
            classes: [], data: nil)
        switch directive.action {
        case .access:
            let records = try await store.records(of: directive.subject)
            receipt.classes = [
                DataClassCount(dataClass: "message_metadata", found: records.deliveries.count + records.setAside.count),
                DataClassCount(dataClass: "delivery_logs", found: records.attempts.count),
                DataClassCount(dataClass: "spooled_messages", found: spooled.count),
                DataClassCount(dataClass: "quarantined_messages", found: quarantined.count),
                DataClassCount(dataClass: "smtp_protocol_logs", found: sessions.count),
            ]
            receipt.data = [
                "message_metadata": try JSONValue(encoding: records.deliveries),
                "delivery_logs": try JSONValue(encoding: records.attempts),
                "spooled_messages": try JSONValue(encoding: spooled.map(SpooledCopy.init)),
                "quarantined_messages": try JSONValue(encoding: quarantined.map(SpooledCopy.init)),
                "smtp_protocol_logs": try JSONValue(encoding: sessions),
            ]
            if !records.setAside.isEmpty {
                // Metadata the database refused, kept beside it (MetadataStore): the export shows it apart, as written.
                receipt.data?["message_metadata_set_aside"] = .array(records.setAside)
            }
        case .erasure:
            // The spool first, so that no new attempt writes metadata behind the erasure.
            var spool = DataClassCount(dataClass: "spooled_messages", found: spooled.count)
            var reasons: Set<String> = []
            for match in spooled {
                let kept = match.recipients.filter { held[match.message.recipients[$0].customer] != nil }
                let cancelled = match.recipients.subtracting(kept)
                if kept.isEmpty, match.recipients == match.pending {
                    _ = try self.spool.erase(match.message.id)
                } else {
                    for recipient in cancelled { self.spool.complete(DeliveryKey(messageID: match.message.id, recipient: recipient)) }
                }
                await queue.forget(cancelled.map { DeliveryKey(messageID: match.message.id, recipient: $0) })
                if kept.isEmpty {
                    spool.erased += 1
                } else {
                    spool.held += 1
                    reasons.formUnion(kept.compactMap { held[match.message.recipients[$0].customer] })
                }
            }
            spool.holdReasons = reasons.sorted()
            // Held mail goes whole unless a customer of it is under a hold; a customer's erasure takes a message
            // only when all its recipients are the customer's.
            var heldMail = DataClassCount(dataClass: "quarantined_messages", found: quarantined.count)
            var heldMailReasons: Set<String> = []
            for match in quarantined {
                let kept = match.recipients.compactMap { held[match.message.recipients[$0].customer] }
                if !kept.isEmpty {
                    heldMail.held += 1
                    heldMailReasons.formUnion(kept)
                } else if match.recipients == match.pending {
                    await quarantine.erase(match.message.id)
                    heldMail.erased += 1
                } else {
                    heldMail.held += 1
                    heldMailReasons.insert("the message is also another customer's, who has not asked for erasure")
                }
            }
            heldMail.holdReasons = heldMailReasons.sorted()
            let erasure = try await store.erase(directive.subject, holding: Set(held.keys))
            if case .customer = directive.subject {
                // The node's backups made before now hold the account's data: they go within deleted_customer_backups.
                do {
                    try AccountErasures.record(now(), dataDirectory: dataDirectory, keep: region.retention.backups)
                } catch {
                    logger.error(
                        "gdpr: cannot record the account's erasure for backups; backups made before it are kept for the backups policy",
                        metadata: ["request": "\(directive.requestID)", "error": "\(error)"])
                }
            }
            let metadataReasons = erasure.heldCustomers.compactMap { held[$0] }.sorted()
            receipt.classes = [
                DataClassCount(
                    // Writes set aside because the database refused them are metadata too (MetadataStore).
                    dataClass: "message_metadata", found: erasure.erasedDeliveries + erasure.erasedSetAside + erasure.heldDeliveries,
                    erased: erasure.erasedDeliveries + erasure.erasedSetAside,
                    held: erasure.heldDeliveries, holdReasons: metadataReasons),
                DataClassCount(
                    dataClass: "delivery_logs", found: erasure.erasedAttempts + erasure.heldAttempts, erased: erasure.erasedAttempts,
                    held: erasure.heldAttempts, holdReasons: erasure.heldAttempts > 0 ? metadataReasons : []),
                spool,
                heldMail,
                DataClassCount(
                    dataClass: "smtp_protocol_logs", found: sessions.count, held: sessions.count,
                    holdReasons: sessions.isEmpty ? [] : [Self.protocolLogHold(region)]),
            ]
            receipt.completedAt = now()
            return await journaled(receipt)
        }
        receipt.completedAt = now()
        return receipt
    }

    /// An erasure's receipt with what an earlier pass for the same request erased (its receipt may not have
    /// reached the coordinator), kept for the next pass. What is held is counted as it is now.
    func journaled(_ receipt: DirectiveReceipt) async -> DirectiveReceipt {
        var receipt = receipt
        do {
            if let earlier = try await store.erasureReceipt(of: receipt.requestID) {
                receipt.classes = receipt.classes.map { count in
                    var count = count
                    count.erased += earlier.classes.first { $0.dataClass == count.dataClass }?.erased ?? 0
                    count.found = count.erased + count.held
                    return count
                }
                logger.notice(
                    "gdpr: this erasure was carried out before; its receipt counts what both passes erased",
                    metadata: ["request": "\(receipt.requestID)", "previous": "\(ISOTime.string(earlier.completedAt))"])
            }
            try await store.keepErasureReceipt(receipt)
        } catch {
            logger.error(
                "gdpr: the erasure receipt journal failed; a second pass would count only what it erases",
                metadata: ["request": "\(receipt.requestID)", "error": "\(error)"])
        }
        return receipt
    }

    /// Why protocol log lines survive an erasure (GDPR Art. 17(3)(e) and recital 49: network and information security).
    static func protocolLogHold(_ region: Region) -> String {
        "SMTP protocol logs are kept for the security of the service (GDPR Art. 17(3)(e), recital 49) and deleted after \(region.retention.smtpProtocolLogs)"
    }

    /// A spooled message of the subject, with the recipients still pending that concern the subject.
    struct SpooledMatch {
        var message: SpooledMessage
        var data: [UInt8]
        var recipients: Set<Int>
        /// Every recipient still pending, the subject's or not: when they are the same set, the whole message goes.
        var pending: Set<Int>
    }

    /// How a spooled message appears in an access export: its envelope and its content.
    struct SpooledCopy: Encodable {
        var messageID: String
        var receivedAt: Date
        var from: String
        var recipients: [String]
        var size: Int
        var contentBase64: String

        init(_ match: SpooledMatch) {
            messageID = match.message.id
            receivedAt = match.message.receivedAt
            from = match.message.from
            recipients = match.recipients.sorted().map { match.message.recipients[$0].address }
            size = match.data.count
            contentBase64 = Data(match.data).base64EncodedString()
        }

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id", receivedAt = "received_at", from, recipients, size, contentBase64 = "content_base64"
        }
    }

    /// The spooled messages still pending that concern the subject: for an address, every pending recipient of a
    /// message it sent or is a recipient of; for a customer, the pending recipients that are the customer's.
    func spooledMessages(of subject: SubjectIdentity) throws -> [SpooledMatch] {
        var matches: [SpooledMatch] = []
        for (id, pending) in spool.pendingMessages().sorted(by: { $0.key < $1.key }) {
            guard let (message, data) = try? spool.read(id) else { continue }
            let relevant = message.recipients(concerning: subject, among: pending)
            if !relevant.isEmpty { matches.append(SpooledMatch(message: message, data: data, recipients: relevant, pending: pending)) }
        }
        return matches
    }
}
