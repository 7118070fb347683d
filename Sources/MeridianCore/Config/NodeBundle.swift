import Foundation

/// What a regional node needs to know about customers: the body of a region's config bundle (DESIGN.md,
/// "Config push"), signed by the coordinator, or read from a local JSON file by a node run without one.
///
/// A bundle holds every customer that may be processed in its region (pinned there, or unpinned) with its
/// webhook, and for customers pinned elsewhere only their domains and that region's MX host, so that the node
/// can answer `451 4.7.1` without holding anything else about them.
public struct NodeBundle: Sendable, Hashable, Codable {
    /// Increases with every change; every message's metadata names the version it was processed under.
    public var version: Int
    public var region: RegionID
    public var customers: [Customer]
    public var elsewhere: [PinnedElsewhere]
    /// The region's retention, queue and masking policy as the coordinator compiled it from Regions/; nil in a
    /// hand-written bundle, where the node's own Regions/ file applies.
    public var policy: Policy?
    /// Where the node may send requests made for a customer (``EgressPolicy``); nil in a hand-written bundle that
    /// names none, where production's rules apply: `https` to public addresses only.
    public var egress: EgressPolicy?
    /// The sub-processors in force in the region, with the steps they run and the hosts those steps may reach.
    public var subprocessors: [SubProcessorEntry]
    /// In a bundle whose webhook secrets are sealed to the region (``BundleSealing``): the bundle's content key,
    /// sealed with HPKE to the region key. Nil when the secrets are in the clear (a hand-written bundle file).
    public var sealedKey: String?

    public init(
        version: Int, region: RegionID, customers: [Customer], elsewhere: [PinnedElsewhere] = [], policy: Policy? = nil,
        subprocessors: [SubProcessorEntry] = [], sealedKey: String? = nil, egress: EgressPolicy? = nil
    ) {
        self.version = version
        self.region = region
        self.customers = customers
        self.elsewhere = elsewhere
        self.policy = policy
        self.subprocessors = subprocessors
        self.sealedKey = sealedKey
        self.egress = egress
    }

    enum CodingKeys: String, CodingKey {
        case version, region, customers, elsewhere, policy, subprocessors, egress
        case sealedKey = "sealed_key"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        region = try container.decode(RegionID.self, forKey: .region)
        customers = try container.decode([Customer].self, forKey: .customers)
        elsewhere = try container.decodeIfPresent([PinnedElsewhere].self, forKey: .elsewhere) ?? []
        policy = try container.decodeIfPresent(Policy.self, forKey: .policy)
        subprocessors = try container.decodeIfPresent([SubProcessorEntry].self, forKey: .subprocessors) ?? []
        sealedKey = try container.decodeIfPresent(String.self, forKey: .sealedKey)
        egress = try container.decodeIfPresent(EgressPolicy.self, forKey: .egress)
    }

    /// A sub-processor in force in the bundle's region.
    public struct SubProcessorEntry: Sendable, Hashable, Codable {
        public var id: String
        public var name: String
        public var steps: [ProcessingStep]
        public var egressHosts: [String]

        public init(id: String, name: String, steps: [ProcessingStep], egressHosts: [String]) {
            self.id = id
            self.name = name
            self.steps = steps
            self.egressHosts = egressHosts
        }

        enum CodingKeys: String, CodingKey {
            case id, name, steps
            case egressHosts = "egress_hosts"
        }
    }

    /// The policy numbers a node enforces, in seconds.
    public struct Policy: Sendable, Hashable, Codable {
        public var messageMetadataSeconds: Int64
        public var deliveryLogsSeconds: Int64
        public var queueLifetimeSeconds: Int64
        public var retryInitialSeconds: Int64
        public var retryMaximumSeconds: Int64
        public var ipMaskingAfterSeconds: Int64
        public var ipv4KeepOctets: Int
        public var ipv6KeepHextets: Int
        /// How long quarantined messages are kept; absent in bundles from before the quarantine (then 14 days).
        public var quarantineSeconds: Int64?
        /// How long SMTP protocol logs are kept; absent in bundles from before the protocol log (then 12 months).
        public var smtpProtocolLogsSeconds: Int64?

        public init(_ region: Region) {
            smtpProtocolLogsSeconds = region.retention.smtpProtocolLogs.seconds
            quarantineSeconds = region.retention.quarantine.seconds
            messageMetadataSeconds = region.retention.messageMetadata.seconds
            deliveryLogsSeconds = region.retention.deliveryLogs.seconds
            queueLifetimeSeconds = region.queue.messageLifetime.seconds
            retryInitialSeconds = region.queue.retryInitial.seconds
            retryMaximumSeconds = region.queue.retryMaximum.seconds
            ipMaskingAfterSeconds = region.ipMasking.after.seconds
            ipv4KeepOctets = region.ipMasking.ipv4KeepOctets
            ipv6KeepHextets = region.ipMasking.ipv6KeepHextets
        }

        enum CodingKeys: String, CodingKey {
            case messageMetadataSeconds = "message_metadata_seconds", deliveryLogsSeconds = "delivery_logs_seconds"
            case queueLifetimeSeconds = "queue_lifetime_seconds", retryInitialSeconds = "retry_initial_seconds"
            case retryMaximumSeconds = "retry_maximum_seconds", ipMaskingAfterSeconds = "ip_masking_after_seconds"
            case ipv4KeepOctets = "ipv4_keep_octets", ipv6KeepHextets = "ipv6_keep_hextets", quarantineSeconds = "quarantine_seconds"
            case smtpProtocolLogsSeconds = "smtp_protocol_logs_seconds"
        }
    }

    public struct Customer: Sendable, Hashable, Codable {
        public var id: String
        /// The region the customer is pinned to, or nil when unpinned.
        public var region: RegionID?
        public var domains: [String]
        /// Full inbound addresses (for example a generated `…@in.<zone>` address), matched before domains.
        public var addresses: [String]
        public var webhook: Webhook
        public var metadataRedactions: [MetadataField]
        /// The optional processing steps the node may run for this customer here: their sub-processors are in
        /// force in the region and the customer has not objected to any of them. Absent means none.
        public var steps: [ProcessingStep]
        /// What to do with spam, viruses and DMARC failures; absent means ``FilteringPolicy/standard``.
        public var filtering: FilteringPolicy?

        public init(
            id: String, region: RegionID?, domains: [String], addresses: [String] = [], webhook: Webhook,
            metadataRedactions: [MetadataField] = [], steps: [ProcessingStep] = [], filtering: FilteringPolicy? = nil
        ) {
            self.filtering = filtering
            self.id = id
            self.region = region
            self.domains = domains
            self.addresses = addresses
            self.webhook = webhook
            self.metadataRedactions = metadataRedactions
            self.steps = steps
        }

        enum CodingKeys: String, CodingKey {
            case id, region, domains, addresses, webhook, steps, filtering
            case metadataRedactions = "metadata_redactions"
        }

        /// The customer's own fields: an http(s) webhook URL, a well-formed secret, domains and addresses.
        public func validate() throws(CoreError) {
            do {
                try filtering?.validate()
            } catch {
                throw CoreError(.bundleInvalid, "customer \(id): \(error.reason)")
            }
            if let events = webhook.eventsURL, WebhookEndpoint(events) == nil {
                throw CoreError(.bundleInvalid, "customer \(id): \"\(events)\" is not an http(s) events URL")
            }
            guard WebhookEndpoint(webhook.url) != nil else {
                throw CoreError(.bundleInvalid, "customer \(id): \"\(webhook.url)\" is not an http(s) webhook URL")
            }
            if let credentials = webhook.credentials, let problem = WebhookEndpoint.credentialsProblem(credentials) {
                throw CoreError(.bundleInvalid, "customer \(id): the webhook credentials are unusable: \(problem)")
            }
            // A sealed secret is checked once it is opened (``NodeBundle/openingSecrets(with:)``).
            if webhook.secretSealed == nil, webhook.previousSecretSealed == nil {
                do {
                    _ = try webhook.signature()
                } catch {
                    throw CoreError(.bundleInvalid, "customer \(id): the webhook secret is malformed (\(error))")
                }
            }
            for domain in domains where DomainName(domain) == nil {
                throw CoreError(.bundleInvalid, "customer \(id): \"\(domain)\" is not a domain")
            }
            for address in addresses where SMTPMailbox(address) == nil {
                throw CoreError(.bundleInvalid, "customer \(id): \"\(address)\" is not an e-mail address")
            }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            region = try container.decodeIfPresent(RegionID.self, forKey: .region)
            domains = try container.decodeIfPresent([String].self, forKey: .domains) ?? []
            addresses = try container.decodeIfPresent([String].self, forKey: .addresses) ?? []
            webhook = try container.decode(Webhook.self, forKey: .webhook)
            metadataRedactions = try container.decodeIfPresent([MetadataField].self, forKey: .metadataRedactions) ?? []
            steps = try container.decodeIfPresent([ProcessingStep].self, forKey: .steps) ?? []
            filtering = try container.decodeIfPresent(FilteringPolicy.self, forKey: .filtering)
        }
    }

    public struct Webhook: Sendable, Hashable, Codable {
        public var url: String
        public var mode: DeliveryMode
        /// How the message is posted; absent means ``PostFormat/json``.
        public var format: PostFormat?
        /// The Standard Webhooks `whsec_` secret the node signs with; empty while it is sealed.
        public var secret: String
        /// The secret sealed under the bundle's content key (``BundleSealing``), as the coordinator sends it.
        public var secretSealed: String?
        /// The secret being rotated out, while its overlap lasts: deliveries carry a signature with each.
        public var previousSecret: String?
        public var previousSecretSealed: String?
        /// HTTP Basic credentials (`user:password`) sent with every delivery, from the user info of the URL
        /// the customer gave (which `url` no longer holds); nil while sealed, or when there are none.
        public var credentials: String?
        public var credentialsSealed: String?
        /// Where delivery events go (``DeliveryEvent``), signed with the same secret; nil for none.
        public var eventsURL: String?

        public init(
            url: String, mode: DeliveryMode, secret: String, secretSealed: String? = nil, previousSecret: String? = nil, format: PostFormat? = nil,
            credentials: String? = nil, eventsURL: String? = nil
        ) {
            self.eventsURL = eventsURL
            self.url = url
            self.mode = mode
            self.secret = secret
            self.secretSealed = secretSealed
            self.previousSecret = previousSecret
            self.format = format
            self.credentials = credentials
        }

        /// The format deliveries are posted in.
        public var postFormat: PostFormat { format ?? .json }

        enum CodingKeys: String, CodingKey {
            case url, mode, secret, format, credentials
            case credentialsSealed = "credentials_sealed", eventsURL = "events_url"
            case secretSealed = "secret_sealed"
            case previousSecret = "previous_secret"
            case previousSecretSealed = "previous_secret_sealed"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            url = try container.decode(String.self, forKey: .url)
            mode = try container.decode(DeliveryMode.self, forKey: .mode)
            secretSealed = try container.decodeIfPresent(String.self, forKey: .secretSealed)
            secret = secretSealed == nil ? try container.decode(String.self, forKey: .secret) : ""
            previousSecretSealed = try container.decodeIfPresent(String.self, forKey: .previousSecretSealed)
            previousSecret = previousSecretSealed == nil ? try container.decodeIfPresent(String.self, forKey: .previousSecret) : nil
            format = try container.decodeIfPresent(PostFormat.self, forKey: .format)
            eventsURL = try container.decodeIfPresent(String.self, forKey: .eventsURL)
            credentialsSealed = try container.decodeIfPresent(String.self, forKey: .credentialsSealed)
            credentials = credentialsSealed == nil ? try container.decodeIfPresent(String.self, forKey: .credentials) : nil
        }

        /// Each secret in the clear or sealed, never both.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(url, forKey: .url)
            try container.encode(mode, forKey: .mode)
            try container.encodeIfPresent(eventsURL, forKey: .eventsURL)
            try container.encodeIfPresent(format, forKey: .format)
            if let credentialsSealed {
                try container.encode(credentialsSealed, forKey: .credentialsSealed)
            } else if let credentials {
                try container.encode(credentials, forKey: .credentials)
            }
            if let secretSealed {
                try container.encode(secretSealed, forKey: .secretSealed)
            } else {
                try container.encode(secret, forKey: .secret)
            }
            if let previousSecretSealed {
                try container.encode(previousSecretSealed, forKey: .previousSecretSealed)
            } else if let previousSecret {
                try container.encode(previousSecret, forKey: .previousSecret)
            }
        }

        /// What the node signs deliveries with.
        public func signature() throws -> WebhookSignature {
            try WebhookSignature(secret: secret, previous: previousSecret)
        }
    }

    /// A domain whose customer is pinned to another region.
    public struct PinnedElsewhere: Sendable, Hashable, Codable {
        public var domain: String
        public var region: RegionID
        public var mxHost: String

        public init(domain: String, region: RegionID, mxHost: String) {
            self.domain = domain
            self.region = region
            self.mxHost = mxHost
        }

        enum CodingKeys: String, CodingKey {
            case domain, region
            case mxHost = "mx_host"
        }
    }
}

extension NodeBundle {
    /// Decodes and validates a bundle. A bundle for another region, a customer pinned to another region, a
    /// bad webhook URL or secret, or a domain claimed twice is an error: the node keeps its previous bundle.
    public static func decode(_ data: Data, expectedRegion: RegionID) throws(CoreError) -> NodeBundle {
        let bundle: NodeBundle
        do {
            bundle = try JSONDecoder().decode(NodeBundle.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw CoreError(.bundleMalformed, "missing key \"\(Self.path(context.codingPath + [key]))\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw CoreError(.bundleMalformed, "wrong type at \"\(Self.path(context.codingPath))\"")
        } catch let DecodingError.dataCorrupted(context) {
            throw CoreError(
                .bundleMalformed, context.codingPath.isEmpty ? "not JSON" : "bad value at \"\(Self.path(context.codingPath))\": \(context.debugDescription)")
        } catch {
            throw CoreError(.bundleMalformed, "cannot decode: \(error)")
        }
        try bundle.validate(expectedRegion: expectedRegion)
        return bundle
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }

    public func validate(expectedRegion: RegionID) throws(CoreError) {
        guard region == expectedRegion else {
            throw CoreError(.bundleForAnotherRegion, "the bundle is for region \(region), this node serves \(expectedRegion)")
        }
        guard version >= 0 else { throw CoreError(.bundleInvalid, "version must not be negative") }
        var owners: [String: String] = [:]
        owners.reserveCapacity(customers.count * 2 + elsewhere.count)
        func claim(_ key: String, by owner: String) throws(CoreError) {
            if let other = owners.updateValue(owner, forKey: key), other != owner {
                throw CoreError(.bundleInvalid, "\"\(key)\" belongs to both \(other) and \(owner)")
            }
        }
        let served = Set(subprocessors.flatMap(\.steps))
        var ids: Set<String> = []
        ids.reserveCapacity(customers.count)
        for customer in customers {
            guard ids.insert(customer.id).inserted else { throw CoreError(.bundleInvalid, "customer \(customer.id) appears twice") }
            if let pin = customer.region, pin != region {
                throw CoreError(.bundleInvalid, "customer \(customer.id) is pinned to \(pin) and must not be in the \(region) bundle")
            }
            try customer.validate()
            for step in customer.steps where !step.isOptional || !served.contains(step) {
                throw CoreError(.bundleInvalid, "customer \(customer.id): step \(step.rawValue) is not an optional step of a sub-processor in this bundle")
            }
            for domain in customer.domains { try claim(domain.lowercased(), by: customer.id) }
            for address in customer.addresses { try claim(address.lowercased(), by: customer.id) }
        }
        for entry in elsewhere {
            guard entry.region != region else {
                throw CoreError(.bundleInvalid, "\"\(entry.domain)\" is listed as pinned elsewhere but names this region")
            }
            try claim(entry.domain.lowercased(), by: "region \(entry.region)")
        }
    }
}

extension Region {
    /// The region with the retention, queue and masking numbers of a bundle's policy, which the coordinator
    /// compiled from Regions/: a node acts on the policy of the config version in force, so the version named in
    /// a message's metadata says which rules applied. Without a policy (a hand-written bundle) the region's own.
    public func applying(_ policy: NodeBundle.Policy?) -> Region {
        guard let policy else { return self }
        var region = self
        region.retention.messageMetadata = PolicyDuration(seconds: policy.messageMetadataSeconds)
        region.retention.deliveryLogs = PolicyDuration(seconds: policy.deliveryLogsSeconds)
        region.queue.messageLifetime = PolicyDuration(seconds: policy.queueLifetimeSeconds)
        region.queue.retryInitial = PolicyDuration(seconds: policy.retryInitialSeconds)
        region.queue.retryMaximum = PolicyDuration(seconds: policy.retryMaximumSeconds)
        region.ipMasking.after = PolicyDuration(seconds: policy.ipMaskingAfterSeconds)
        region.ipMasking.ipv4KeepOctets = policy.ipv4KeepOctets
        region.ipMasking.ipv6KeepHextets = policy.ipv6KeepHextets
        if let quarantine = policy.quarantineSeconds { region.retention.quarantine = PolicyDuration(seconds: quarantine) }
        if let logs = policy.smtpProtocolLogsSeconds { region.retention.smtpProtocolLogs = PolicyDuration(seconds: logs) }
        return region
    }
}
