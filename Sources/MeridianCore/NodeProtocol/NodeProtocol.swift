/// The node protocol: the HTTP calls between the coordinator and the regional nodes, and what they carry,
/// declared once for both ends, as xDS declares each message once for its servers and clients.
///
/// Both directions run over mutual TLS (TLS 1.3): the coordinator presents a certificate of the coordinator CA,
/// each node one of the node CA that names it (``NodeIdentity``); each side accepts only the other's authority.
/// Who calls is read from the certificate, never from the request.
///
/// The coordinator calls a node's control API:
/// * `PUT /v1/bundle` with a ``ConfigUpdate`` (signed deltas, after a signed snapshot when the node needs one); the
///   node answers its ``BundleReport`` (200 ACK, 422 NACK);
/// * `POST /v1/directives` with a ``SignedDirective``; the node answers a ``DirectiveReceipt`` (or 422);
/// * `GET /v1/messages` with a ``MessageQuery``; the node answers a ``MessagePage``;
/// * `GET /v1/quarantine?customer_id=` for a customer's held messages (a ``MessagePage``), `GET
///   /v1/quarantine/{message id}?customer_id=` for one (a ``QuarantinePreview``), and `POST /v1/quarantine` with a
///   ``QuarantineAction`` (release or delete), answered with a ``QuarantineOutcome`` per message;
/// * `GET /v1/protocol-log` with `since`, `until`, `client_ip`, `address` and `limit`; the node answers the
///   ``SMTPProtocolRecord``s of the sessions that match.
///
/// A node calls the coordinator's node port:
/// * `GET /node/v1/ca` before it joins, without verifying the server: the coordinator CA's certificate, which the
///   node trusts only if its SHA-256 is the one its join token pins;
/// * `POST /node/v1/join` once, with its join token and without a certificate, and a ``NodeJoinRequest``; the
///   coordinator answers a ``NodeJoinAnswer`` with the node's certificate;
/// * `POST /node/v1/renew` with a ``NodeJoinRequest`` for a new key, before its certificate expires; the
///   coordinator answers a ``NodeRenewal``;
/// * `GET /node/v1/bundle` with a ``BundlePull``; the coordinator answers the ``ConfigUpdate`` that brings the node
///   from its version to its region's newest (200), or 204 when the node already has it;
/// * `POST /node/v1/reports` with the ``BundleReport`` of what it made of a bundle it pulled.
///
/// Either side answers an error as RFC 9457 problem+json (``ProblemDetails``).
public enum NodeProtocol {
    public static let bundlePath = "/v1/bundle"
    public static let directivesPath = "/v1/directives"
    public static let messagesPath = "/v1/messages"
    public static let quarantinePath = "/v1/quarantine"
    public static let protocolLogPath = "/v1/protocol-log"
    public static let authorityPath = "/node/v1/ca"
    public static let joinPath = "/node/v1/join"
    public static let renewPath = "/node/v1/renew"
    public static let pullPath = "/node/v1/bundle"
    public static let reportsPath = "/node/v1/reports"

    /// A snapshot carries every customer of a region: about 280 MB for a million customers, signed and sealed.
    public static let maximumBundleSize = 1 << 30
    /// A directive is small; an access receipt carries the subject's records.
    public static let maximumDirectiveSize = 1 << 20
    public static let maximumReceiptSize = 256 << 20
    public static let maximumMessagePageSize = 64 << 20
    public static let maximumReportSize = 64 << 10
}
