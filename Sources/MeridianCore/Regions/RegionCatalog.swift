import Foundation
import Yams

/// Every region and the service profile, loaded and validated from the Regions/ directory.
///
/// This is the single source of truth the coordinator, the nodes, the public pages and Terraform read.
public struct RegionCatalog: Sendable {
    public var service: ServiceProfile
    /// The regions, sorted by id.
    public var regions: [Region]

    public init(service: ServiceProfile, regions: [Region]) {
        self.service = service
        self.regions = regions.sorted { $0.id < $1.id }
    }

    public func region(_ id: RegionID) -> Region? { regions.first { $0.id == id } }

    public var regionIDs: [RegionID] { regions.map(\.id) }

    /// The closed-account period for an account: its pinned region's, or the longest of all regions for an
    /// unpinned account, whose data may sit in any of them.
    public func closedAccountPeriod(for pin: RegionID?) -> PolicyDuration {
        if let pin, let region = region(pin) { return region.retention.closedAccountPeriod }
        return regions.map(\.retention.closedAccountPeriod).max() ?? .days(395)
    }

    /// The MX host a domain must point at: the region's for a pinned customer, the global one otherwise.
    public func mxHost(for pin: RegionID?) -> String {
        if let pin, let region = region(pin) { return region.mxHost }
        return service.mxHost
    }

    // MARK: - Loading

    /// Loads `service.yaml` and every other `*.yaml` in `directory` as a region.
    public static func load(directory: String) throws(RegionConfigError) -> RegionCatalog {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw RegionConfigError(.unreadable, file: directory, key: "", "cannot read the Regions directory")
        }
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        guard names.contains("service.yaml") else {
            throw RegionConfigError(.unreadable, file: path("service.yaml"), key: "", "file is missing")
        }
        let service = try parseService(try read(path("service.yaml")), file: path("service.yaml"))
        var regions: [Region] = []
        for name in names.sorted() where name.hasSuffix(".yaml") && name != "service.yaml" {
            let file = path(name)
            let region = try parseRegion(try read(file), file: file)
            let stem = String(name.dropLast(".yaml".count))
            guard region.id.rawValue == stem else {
                throw RegionConfigError(.inconsistent, file: file, key: "id", "id \"\(region.id)\" must match the file name \"\(stem)\"")
            }
            regions.append(region)
        }
        guard !regions.isEmpty else {
            throw RegionConfigError(.unreadable, file: directory, key: "", "no region files (<id>.yaml) found")
        }
        var mxHosts: [String: RegionID] = [:]
        for region in regions {
            if let other = mxHosts[region.mxHost] {
                throw RegionConfigError(
                    .inconsistent, file: path("\(region.id).yaml"), key: "mx_host",
                    "\"\(region.mxHost)\" is already the MX host of region \(other)")
            }
            mxHosts[region.mxHost] = region.id
        }
        if let clash = mxHosts[service.mxHost] {
            throw RegionConfigError(
                .inconsistent, file: path("service.yaml"), key: "mx_host",
                "\"\(service.mxHost)\" is also the MX host of region \(clash); the global MX host must differ")
        }
        return RegionCatalog(service: service, regions: regions)
    }

    private static func read(_ file: String) throws(RegionConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw RegionConfigError(.unreadable, file: file, key: "", "cannot read the file as UTF-8 text")
        }
        return text
    }

    private static func compose(_ yaml: String, file: String) throws(RegionConfigError) -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch {
            throw RegionConfigError(.notYAML, file: file, key: "", "not valid YAML: \(error)")
        }
    }

    /// Parses one region file's text; `file` is used in error messages only.
    public static func parseRegion(_ yaml: String, file: String) throws(RegionConfigError) -> Region {
        var root = try YAMLMappingReader(try compose(yaml, file: file), file: file)
        let idText = try root.string("id")
        guard let id = RegionID(idText) else {
            throw RegionConfigError(.badValue, file: file, key: "id", "\"\(idText)\" is not a region id (2 to 8 lower-case letters)")
        }
        let name = try root.string("name")
        let jurisdiction = try root.string("jurisdiction")
        let location = try root.string("location")
        let providerRegion = try root.string("provider_region")
        let mxHost = try root.string("mx_host")
        guard DomainName(mxHost) != nil else {
            throw RegionConfigError(.badValue, file: file, key: "mx_host", "\"\(mxHost)\" is not a host name")
        }
        var nodes: [Region.NodeEndpoint] = []
        for (index, item) in try root.sequence("nodes").enumerated() {
            var node = try YAMLMappingReader(item, file: file, path: "nodes[\(index)]")
            let nodeID = try node.string("id")
            let control = try node.string("control_url")
            guard let url = URL(string: control), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw RegionConfigError(.badValue, file: file, key: node.keyPath("control_url"), "\"\(control)\" is not an http(s) URL")
            }
            try node.rejectUnknownKeys()
            nodes.append(.init(id: nodeID, controlURL: control))
        }
        guard !nodes.isEmpty else {
            throw RegionConfigError(.badValue, file: file, key: "nodes", "a region needs at least one node")
        }

        var retentionReader = try root.mapping("retention")
        let retention = RetentionPolicy(
            messageMetadata: try retentionReader.duration("message_metadata"),
            deliveryLogs: try retentionReader.duration("delivery_logs"),
            smtpProtocolLogs: try retentionReader.duration("smtp_protocol_logs"),
            quarantine: try retentionReader.duration("quarantine"),
            backups: try retentionReader.duration("backups"),
            deletedCustomerBackups: try retentionReader.duration("deleted_customer_backups"),
            closedAccountLegalPeriod: try retentionReader.duration("closed_account_legal_period"),
            closedAccountDeletionDelay: try retentionReader.duration("closed_account_deletion_delay"),
            financialRecords: try retentionReader.duration("financial_records")
        )
        try retentionReader.rejectUnknownKeys()

        var queueReader = try root.mapping("queue")
        let queue = QueuePolicy(
            messageLifetime: try queueReader.duration("message_lifetime"),
            retryInitial: try queueReader.duration("retry_initial"),
            retryMaximum: try queueReader.duration("retry_maximum")
        )
        try queueReader.rejectUnknownKeys()
        guard queue.retryInitial <= queue.retryMaximum else {
            throw RegionConfigError(.inconsistent, file: file, key: "queue.retry_initial", "must not exceed queue.retry_maximum")
        }

        var maskingReader = try root.mapping("ip_masking")
        let masking = IPMaskingPolicy(
            after: try maskingReader.duration("after"),
            ipv4KeepOctets: try maskingReader.int("ipv4_keep_octets", in: 0...3),
            ipv6KeepHextets: try maskingReader.int("ipv6_keep_hextets", in: 0...7)
        )
        try maskingReader.rejectUnknownKeys()
        try root.rejectUnknownKeys()

        return Region(
            id: id, name: name, jurisdiction: jurisdiction, location: location, providerRegion: providerRegion,
            mxHost: mxHost.lowercased(), nodes: nodes, retention: retention, queue: queue, ipMasking: masking)
    }

    /// Parses `service.yaml`'s text; `file` is used in error messages only.
    public static func parseService(_ yaml: String, file: String) throws(RegionConfigError) -> ServiceProfile {
        var root = try YAMLMappingReader(try compose(yaml, file: file), file: file)
        let name = try root.string("name")
        let zone = try root.string("dns_zone")
        guard DomainName(zone) != nil else {
            throw RegionConfigError(.badValue, file: file, key: "dns_zone", "\"\(zone)\" is not a DNS zone name")
        }
        let mxHost = try root.string("mx_host")
        guard DomainName(mxHost) != nil else {
            throw RegionConfigError(.badValue, file: file, key: "mx_host", "\"\(mxHost)\" is not a host name")
        }
        var controllerReader = try root.mapping("controller")
        let controller = try party(&controllerReader)
        var dpoReader = try root.mapping("dpo")
        let dpo = try party(&dpoReader)
        try root.rejectUnknownKeys()
        return ServiceProfile(name: name, dnsZone: zone.lowercased(), mxHost: mxHost.lowercased(), controller: controller, dpo: dpo)
    }

    private static func party(_ reader: inout YAMLMappingReader) throws(RegionConfigError) -> ServiceProfile.Party {
        let name = try reader.string("name")
        let email = try reader.string("email")
        guard EmailAddress(email) != nil else {
            throw RegionConfigError(.badValue, file: reader.file, key: reader.keyPath("email"), "\"\(email)\" is not an e-mail address")
        }
        let address = try reader.optionalString("address")
        try reader.rejectUnknownKeys()
        return .init(name: name, email: email, address: address)
    }
}
