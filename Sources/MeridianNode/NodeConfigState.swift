import MeridianCore
import NIOConcurrencyHelpers

/// The bundle in force. A new bundle replaces it atomically; a session keeps the directory it started
/// with, so sessions in flight finish under the version they began with.
public final class NodeConfigState: Sendable {
    private let current: NIOLockedValueBox<RecipientDirectory>

    public init(_ bundle: NodeBundle) {
        current = NIOLockedValueBox(RecipientDirectory(bundle))
    }

    public var directory: RecipientDirectory { current.withLockedValue { $0 } }
    public var version: Int { directory.bundle.version }

    public func apply(_ bundle: NodeBundle) {
        current.withLockedValue { $0 = RecipientDirectory(bundle) }
    }
}
