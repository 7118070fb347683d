import MeridianCore

/// An error of the coordinator (``CodedError``): a code to act on, and a reason written for the operator who reads
/// it (at start, in a log line, in a CLI message). The API answers its own problems (`Problem`); this is for
/// everything else.
public typealias CoordinatorError = CodedError<CoordinatorErrorCode>

public enum CoordinatorErrorCode: String, Sendable, CaseIterable {
    /// `MERIDIAN_MASTER_KEY` or `master.key` is not a 32-byte key.
    case masterKeyInvalid
    /// A signing key file does not open with the master key.
    case signingKeyInvalid
    /// A node's certificate signing request does not parse, does not verify, or holds a key of another kind.
    case certificateRequestInvalid
    /// `--database` is neither `sqlite:PATH` nor a `postgres://` URL with a database.
    case databaseLocationInvalid
    /// The database could not be reached in time: nothing was done. The API answers 503 with `Retry-After`.
    case storeNoConnection
    /// The connection to the database went during the work: whether its last statement took effect is unknown.
    case storeConnectionLost
    /// The connection went before a transaction's COMMIT was sent, and the transaction will not send it: nothing
    /// was changed, so the request may be run again.
    case storeNotCommitted
    /// The database's schema is newer than this build knows.
    case schemaNewer
    /// A row holds a value this build cannot read (written by hand, or by a newer build).
    case storeCorrupt
    /// The state could not be compiled into bundles.
    case configNotCompiled
    /// A node gave no receipt for a directive (unreachable, refused, or a receipt that does not decode).
    case directiveUndelivered
    /// A data subject's export (the access ZIP) could not be written.
    case exportNotWritten
    /// A backup could not be made or restored.
    case backupFailed
    /// A notice to a customer could not be sent.
    case notificationUndelivered
    /// A setting has a value that cannot be used (a resolver address, a Regions directory).
    case settingInvalid
    /// A file of audit checkpoints with a line that is not one.
    case checkpointUnreadable
    /// The HTTP server could not start (its address is taken, say).
    case serverNotStarted
}

extension CodedError where Code == CoordinatorErrorCode {
    /// The database is away (a restart, a failover): a passing condition.
    public var isStoreUnavailable: Bool { code == .storeNoConnection || code == .storeConnectionLost || code == .storeNotCommitted }
}
