public struct QueuePolicy: Sendable, Hashable {
    /// After this long a queued message fails and the sender gets a DSN.
    public var messageLifetime: PolicyDuration
    public var retryInitial: PolicyDuration
    public var retryMaximum: PolicyDuration
}
