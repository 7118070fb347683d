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

    public enum Outcome: Sendable, Equatable {
        /// The bundle is now in force.
        case applied
        /// This version is already in force; nothing changed.
        case alreadyInForce
        /// The version is older than the one in force; nothing changed.
        case older(inForce: Int)
    }

    /// Puts `bundle` in force if its version is newer than the one in force, checked and swapped under one
    /// lock so that a push and a pull arriving together cannot move the version backwards.
    public func applyIfNewer(_ bundle: NodeBundle) -> Outcome {
        current.withLockedValue { directory in
            let inForce = directory.bundle.version
            if bundle.version == inForce { return .alreadyInForce }
            if bundle.version < inForce { return .older(inForce: inForce) }
            directory = RecipientDirectory(bundle)
            return .applied
        }
    }
}
