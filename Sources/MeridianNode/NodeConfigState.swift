import MeridianCore
import NIOConcurrencyHelpers

/// The bundle in force. A new bundle replaces it atomically; a session keeps the directory it started
/// with, so sessions in flight finish under the version they began with.
public final class NodeConfigState: Sendable {
    private let current: NIOLockedValueBox<RecipientDirectory>

    public init(_ bundle: NodeBundle) {
        current = NIOLockedValueBox(RecipientDirectory(bundle))
    }

    public init(_ directory: RecipientDirectory) {
        current = NIOLockedValueBox(directory)
    }

    public var directory: RecipientDirectory { current.withLockedValue { $0 } }
    public var version: Int { directory.version }

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
        applyIfNewer(version: bundle.version) { RecipientDirectory(bundle) }
    }

    /// The same for a directory already built (a snapshot with the deltas after it).
    public func applyIfNewer(_ directory: RecipientDirectory) -> Outcome {
        applyIfNewer(version: directory.version) { directory }
    }

    private func applyIfNewer(version: Int, _ make: () -> RecipientDirectory) -> Outcome {
        current.withLockedValue { directory in
            let inForce = directory.version
            if version == inForce { return .alreadyInForce }
            if version < inForce { return .older(inForce: inForce) }
            directory = make()
            return .applied
        }
    }

    /// Applies `delta` if the version in force is its base: checked and swapped under one lock. A delta of a version
    /// already in force is acknowledged; one for another base is refused (``CoreErrorCode/deltaBaseMismatch``).
    public func apply(_ delta: NodeBundleDelta) throws(CoreError) -> Outcome {
        try current.withLockedValue { (directory: inout RecipientDirectory) -> Result<Outcome, CoreError> in
            let inForce = directory.version
            if delta.version == inForce { return .success(.alreadyInForce) }
            if delta.version < inForce { return .success(.older(inForce: inForce)) }
            do throws(CoreError) {
                directory = try directory.applying(delta)
            } catch {
                return .failure(error)
            }
            return .success(.applied)
        }.get()
    }
}
