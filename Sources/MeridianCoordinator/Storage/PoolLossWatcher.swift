import Logging
import PostgresKit
import PostgresNIO

/// The pool's background logger: passes every line on as before, and marks a loss when the pool reports a
/// connection it could not make (PostgresNIO logs "Connection creation failed" with `psql_error`). It sees
/// info lines even when the process logs only from notice up.
struct PoolLossWatcher: LogHandler {
    var inner: any LogHandler
    let losses: LossMark

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { min(inner.logLevel, .info) }
        set { inner.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        if event.message.description == "Connection creation failed" || event.metadata?["psql_error"] != nil { losses.mark() }
        guard event.level >= inner.logLevel else { return }
        inner.log(event: event)
    }
}
