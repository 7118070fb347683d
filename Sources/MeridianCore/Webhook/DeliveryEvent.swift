import Foundation

/// What happened to a customer's mail, posted to its optional events URL and signed like a delivery (Standard
/// Webhooks, with the `webhook-id` the event's id): a delivery delayed (its first attempt failed, a retry is
/// scheduled), failed for good, or quarantined, from the node that holds the message; a domain whose ownership
/// record went missing, from the coordinator. The data holds the metadata record's fields as the region keeps
/// them, so a field the customer redacted is not in it.
public struct DeliveryEvent: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case messageDelayed = "message.delayed"
        case messageFailed = "message.failed"
        case messageQuarantined = "message.quarantined"
        case domainUnverified = "domain.unverified"
    }

    public var kind: Kind
    /// `evt_` and a ULID.
    public var id: String
    public var createdAt: Date
    /// The event's fields, in order; nil values are left out.
    public var data: [(name: String, value: String?)]

    public init(_ kind: Kind, at date: Date, data: [(name: String, value: String?)]) {
        self.kind = kind
        self.id = ResourceID.make(prefix: "evt", at: date)
        self.createdAt = date
        self.data = data
    }

    /// An event about one recipient's delivery.
    public init(_ kind: Kind, delivery record: DeliveryRecord, region: RegionID, reason: String?, nextAttemptAt: Date? = nil, at date: Date) {
        self.init(kind, at: date, data: [
            ("customer_id", record.customerID), ("message_id", record.messageID), ("recipient", String(record.recipient)),
            ("webhook_id", record.webhookID), ("region", region.rawValue), ("status", record.status.rawValue),
            ("attempts", String(record.attempts)), ("reason", reason), ("next_attempt_at", nextAttemptAt.map(ISOTime.string)),
            ("received_at", ISOTime.string(record.metadata.receivedAt)), ("envelope_from", record.metadata.envelopeFrom),
            ("envelope_to", record.metadata.envelopeTo), ("subject", record.metadata.subject),
            ("config_version", record.metadata.configVersion.map(String.init)),
        ])
    }

    /// `{"type", "id", "created_at", "data": {...}}`.
    public func json() -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        json.beginObject()
        json.field("type", kind.rawValue)
        json.field("id", id)
        json.field("created_at", ISOTime.string(createdAt))
        json.key("data")
        json.beginObject()
        for (name, value) in data where value != nil {
            if name == "recipient" || name == "attempts" || name == "config_version", let number = value.flatMap(Int.init) {
                json.field(name, number)
            } else {
                json.field(name, value)
            }
        }
        json.endObject()
        json.endObject()
        return json.bytes
    }
}
