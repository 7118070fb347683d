/// How a customer's mail reaches its webhook (DESIGN.md, "Delivery modes").
public enum DeliveryMode: String, Sendable, CaseIterable, Codable, Hashable {
    /// POST while the SMTP client waits; the endpoint's answer decides the SMTP reply.
    case sync
    /// 250 once the message is durably spooled, then delivery with retries.
    case queued
}
