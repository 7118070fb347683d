import MeridianCore

/// An error of a regional node (``CodedError``): a code to act on, and a reason that names the file, flag or peer
/// at fault.
public typealias NodeError = CodedError<NodeErrorCode>

public enum NodeErrorCode: String, Sendable, CaseIterable {
    /// The data or spool directory is locked by another node, or cannot be locked.
    case directoryInUse
    /// The STARTTLS certificate or key cannot be loaded.
    case tlsCertificateUnusable
    /// The bundle file cannot be used at start, and there is no last-known-good to fall back on.
    case bundleUnusable
    /// A plain bundle offered to a node that trusts only signed ones.
    case bundleNotSigned
    /// The node has no enrollment (`DATA-DIR/identity`) and was not given a join token.
    case notEnrolled
    /// The enrollment's files cannot be read, or do not belong together.
    case enrollmentUnusable
    /// The coordinator the node calls is not the one its join token pins.
    case coordinatorNotTrusted
    /// The coordinator refused the join token or the certificate request.
    case joinRefused
    /// The node's certificate could not be renewed.
    case renewalFailed
    /// The spool's disk is full: the sender is told to try later.
    case spoolFull
    /// The spool cannot be read or written.
    case spoolIO
    /// The coordinator could not be asked, or answered something other than the node protocol.
    case coordinatorUnavailable
    /// A file the node keeps (the last-known-good bundle, the metadata side files) cannot be written.
    case fileNotWritten
    /// The metadata store was made by a newer node: its schema is past this node's.
    case metadataStoreTooNew
    /// A backup of the node's metadata cannot be made or restored.
    case backupFailed
    /// A setting names a file or address the node cannot use (the DNS resolver, the Public Suffix List).
    case settingInvalid
}
