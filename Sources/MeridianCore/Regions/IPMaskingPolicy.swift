public struct IPMaskingPolicy: Sendable, Hashable {
    /// IP addresses in analytics-type data are masked after this long.
    public var after: PolicyDuration
    public var ipv4KeepOctets: Int
    public var ipv6KeepHextets: Int

    public init(after: PolicyDuration, ipv4KeepOctets: Int, ipv6KeepHextets: Int) {
        self.after = after
        self.ipv4KeepOctets = ipv4KeepOctets
        self.ipv6KeepHextets = ipv6KeepHextets
    }
}
