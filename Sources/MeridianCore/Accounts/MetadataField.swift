/// A field of the per-message metadata record that a customer may ask not to be stored at all
/// ("redaction on request"). A redacted field is never written, not blanked later.
public enum MetadataField: String, Sendable, CaseIterable, Codable, Hashable {
    case senderIP = "sender_ip"
    case helo
    case messageID = "message_id"
    case envelopeFrom = "envelope_from"
    case envelopeTo = "envelope_to"
    case subject
    case date
    case tls
    case serverResponse = "server_response"
    /// The SPF, DKIM and DMARC verdicts and the domains they name (the sender's, the signers', the From's).
    case authentication
}
