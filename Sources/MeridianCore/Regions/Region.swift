/// A region id such as `eu`: lower-case letters, 2 to 8 of them, as named by a file in Regions/.
public struct RegionID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard (2...8).contains(rawValue.count), rawValue.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
    public static func < (lhs: RegionID, rhs: RegionID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = RegionID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a region id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// One processing region as described by `Regions/<id>.yaml`.
public struct Region: Sendable, Hashable {
    public var id: RegionID
    public var name: String
    /// The legal regime the region's data sits under, e.g. "EU/EEA (GDPR)".
    public var jurisdiction: String
    /// Where the machines are, in words, e.g. "Frankfurt, Germany".
    public var location: String
    /// The cloud provider region that hosts it, e.g. `eu-central-1`; Terraform places everything here.
    public var providerRegion: String
    /// The MX host that customers pinned to this region point their domains at.
    public var mxHost: String
    public var nodes: [NodeEndpoint]
    public var retention: RetentionPolicy
    public var queue: QueuePolicy
    public var ipMasking: IPMaskingPolicy

    public struct NodeEndpoint: Sendable, Hashable {
        public var id: String
        /// The node's control API, used by the coordinator for config push and metadata queries.
        public var controlURL: String
    }
}

/// How long each class of data is kept in a region. Defaults come from the source policies (DESIGN.md).
public struct RetentionPolicy: Sendable, Hashable {
    public var messageMetadata: PolicyDuration
    public var deliveryLogs: PolicyDuration
    public var smtpProtocolLogs: PolicyDuration
    public var backups: PolicyDuration
    public var deletedCustomerBackups: PolicyDuration
    /// How long a closed account is kept for legal reasons before its deletion is scheduled.
    public var closedAccountLegalPeriod: PolicyDuration
    /// How long after the legal period a closed account is deleted; it can be reopened until then.
    public var closedAccountDeletionDelay: PolicyDuration
    /// Financial and billing records, exempt from erasure.
    public var financialRecords: PolicyDuration

    /// The whole time a closed account is kept before the purge: legal period plus deletion delay.
    public var closedAccountPeriod: PolicyDuration { closedAccountLegalPeriod + closedAccountDeletionDelay }
}

public struct QueuePolicy: Sendable, Hashable {
    /// After this long a queued message fails and the sender gets a DSN.
    public var messageLifetime: PolicyDuration
    public var retryInitial: PolicyDuration
    public var retryMaximum: PolicyDuration
}

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

/// The service-wide settings in `Regions/service.yaml`.
public struct ServiceProfile: Sendable, Hashable {
    public var name: String
    /// The DNS zone under which the MX hosts live, e.g. `meridian.example`.
    public var dnsZone: String
    /// The global MX host for unpinned customers, e.g. `mx.meridian.example`.
    public var mxHost: String
    public var controller: Party
    public var dpo: Party

    public struct Party: Sendable, Hashable {
        public var name: String
        public var email: String
        public var address: String?
    }
}
