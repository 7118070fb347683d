import Foundation
import NIOConcurrencyHelpers

/// Re-reads the bundle file when it changes (a ``PeriodicJob`` checks every second). A bad file is refused by
/// the intake and the bundle in force stays.
final class BundleWatcher: Sendable {
    let file: BundleFile
    let intake: BundleIntake
    /// The file's modification time when last looked at.
    private let seen: NIOLockedValueBox<Date?>

    init(file: BundleFile, intake: BundleIntake) {
        self.file = file
        self.intake = intake
        seen = NIOLockedValueBox(file.modificationDate)
    }

    /// Offers the file to the intake if it changed since the last look.
    func check() {
        let now = file.modificationDate
        let changed = seen.withLockedValue { seen in
            defer { seen = now }
            return seen != now
        }
        guard changed, let data = FileManager.default.contents(atPath: file.path) else { return }
        _ = intake.offer(data, from: file.path)
    }
}
