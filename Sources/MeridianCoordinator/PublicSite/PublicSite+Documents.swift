import Crypto
import Foundation
import MeridianCore

extension PublicSite {
    /// What the pages are made from, read once per request (or once for `meridian publish`); only what the
    /// requested paths show is read from the database.
    struct Snapshot {
        var site: PublicSite
        var date: Date
        var configVersion: Int?
        var policies: [RegionID: NodeBundle.Policy]
        var entries: [SubProcessor]
        var versions: [SubProcessorVersion]
        var reports: [Publications.PeriodReport]
        var canary: SignedCanary?

        static func take(_ site: PublicSite, for paths: [String]) async throws -> Snapshot {
            let paths = Set(paths)
            func any(_ wanted: String...) -> Bool { !paths.isDisjoint(with: wanted) }
            let canaryFiles = ["/", "/canary", "/canary.json", "/.well-known/canary.txt", "/.well-known/canary.txt.sig"]
            return Snapshot(
                site: site, date: site.now(), configVersion: try await site.config.latest()?.version,
                policies: await site.publisher.enforcedPolicies,
                entries: any("/", "/subprocessors", "/subprocessors.json") ? try await site.registry.subprocessors.all() : [],
                versions: any("/subprocessors", "/subprocessors.atom") ? try await site.registry.subprocessors.versions(limit: 200) : [],
                reports: any("/transparency", "/transparency.json") ? try await site.publications.allReports() : [],
                canary: !paths.isDisjoint(with: canaryFiles) ? try await site.publications.canaries.latest() : nil)
        }

        /// The policy the region's nodes enforce: the newest version's, or without a publisher (a coordinator
        /// that signs no bundles) the compiler's own reading of Regions/.
        func policy(_ region: Region) -> NodeBundle.Policy {
            policies[region.id] ?? NodeBundle.Policy(region)
        }

        func document(_ path: String) -> Document? {
            switch path {
            case "/": html(path, "index", title: "Overview", index)
            case "/privacy": html(path, "privacy", title: "Privacy", privacy)
            case "/privacy.json": json(path, privacyJSON)
            case "/regions": html(path, "regions", title: "Regions", regions)
            case "/regions.json": json(path, ["regions": regionsJSON])
            case "/subprocessors": html(path, "subprocessors", title: "Sub-processors", subprocessors)
            case "/subprocessors.json": json(path, subprocessorsJSON)
            case "/subprocessors.atom": Document(path: path, contentType: "application/atom+xml; charset=utf-8", body: Data(atom.utf8))
            case "/transparency": html(path, "transparency", title: "Transparency reports", transparency)
            case "/transparency.json": json(path, ["reports": reports.map(reportJSON)])
            case "/canary": html(path, "canary", title: "Warrant canary", canaryPage)
            case "/canary.json": json(path, canaryJSON)
            case "/.well-known/canary.txt": canary.map { Document(path: path, contentType: "text/plain; charset=utf-8", body: Data($0.text.utf8)) }
            case "/.well-known/canary.txt.sig": canary.map { Document(path: path, contentType: "application/octet-stream", body: $0.signature) }
            case "/.well-known/canary.pub":
                site.publications.key.map {
                    Document(path: path, contentType: "application/x-pem-file", body: Data(Ed25519PEM.encode($0.publicKey).utf8))
                }
            default: nil
            }
        }

        // MARK: - HTML

        func html(_ path: String, _ template: String, title: String, _ context: [String: Any]) -> Document {
            let service = site.catalog.service
            var context = context
            context["title"] = title
            context["service"] = service.name
            context["controller"] = service.controller.name
            context["controllerAddress"] = service.controller.address
            context["dpoEmail"] = service.dpo.email
            context["generatedAt"] = ISOTime.string(date)
            context["configVersion"] = configVersion.map(String.init) ?? "none yet"
            let text = PublicSite.library.render(context, withTemplate: template) ?? ""
            return Document(path: path, contentType: "text/html; charset=utf-8", body: Data(text.utf8))
        }

        var canaryState: (state: String, text: String) {
            guard let canary else { return ("expired", "none issued") }
            return canary.statement.isExpired(at: date)
                ? ("expired", "expired on \(CalendarDay(containing: canary.statement.expiresAt))")
                : ("current", "current until \(CalendarDay(containing: canary.statement.expiresAt))")
        }

        var index: [String: Any] {
            [
                "regionCount": site.catalog.regions.count, "announcedCount": entries.filter { $0.state(at: date) == .announced }.count,
                "canaryState": canaryState.state, "canaryStateText": canaryState.text,
            ]
        }

        /// One row of the retention table: a label, a value per region, where the number comes from.
        struct RetentionRow: Sendable {
            var key: String
            var label: String
            var enforced: Bool
            var source: String
            var seconds: @Sendable (Region, NodeBundle.Policy) -> Int64
        }

        static let retentionRows: [RetentionRow] = [
            .init(key: "message_metadata", label: "Message metadata (the fields below)", enforced: true, source: "CloudMailin") { $1.messageMetadataSeconds },
            .init(key: "delivery_logs", label: "Delivery and access logs with IP addresses", enforced: true, source: "CipherMail, Cleanmail") {
                $1.deliveryLogsSeconds
            },
            .init(key: "ip_masking", label: "IP addresses in metadata masked after", enforced: true, source: "CipherMail") { $1.ipMaskingAfterSeconds },
            .init(key: "queue_lifetime", label: "Queued message, retried until it fails and the sender is told", enforced: true, source: "Cleanmail, RFC 5321") {
                $1.queueLifetimeSeconds
            },
            .init(key: "smtp_protocol_logs", label: "SMTP protocol logs (commands and replies, never message content; read only by the security team)", enforced: true, source: "Cleanmail") {
                r, policy in policy.smtpProtocolLogsSeconds ?? r.retention.smtpProtocolLogs.seconds
            },
            .init(key: "quarantine", label: "Messages held in a customer's quarantine (spam or viruses, by the customer's choice), then deleted", enforced: true, source: "Cleanmail") {
                r, policy in policy.quarantineSeconds ?? r.retention.quarantine.seconds
            },
            .init(key: "backups", label: "Backups (encrypted; data erased on request leaves them within this period)", enforced: false, source: "CipherMail") { r, _ in r.retention.backups.seconds },
            .init(key: "deleted_customer_backups", label: "Backups of a deleted account's data (backups made before its deletion are deleted within this period of it)", enforced: false, source: "Mailfence") { r, _ in
                r.retention.deletedCustomerBackups.seconds
            },
            .init(key: "closed_account", label: "Closed account, reopenable until deleted", enforced: false, source: "Mailfence") { r, _ in
                r.retention.closedAccountPeriod.seconds
            },
            .init(key: "financial_records", label: "Financial and billing records (exempt from erasure)", enforced: false, source: "CipherMail, Cleanmail") {
                r, _ in r.retention.financialRecords.seconds
            },
        ]

        var privacy: [String: Any] {
            let regions = site.catalog.regions
            let rows: [[String: Any]] = Self.retentionRows.map { row in
                [
                    "key": row.key, "label": row.label, "enforced": row.enforced, "source": row.source,
                    "values": regions.map { region -> [String: Any] in
                        let seconds = row.seconds(region, policy(region))
                        return ["region": region.id.rawValue, "seconds": seconds, "text": PublicSite.duration(seconds)]
                    },
                ]
            }
            return [
                "regions": regions.map { ["id": $0.id.rawValue, "name": $0.name] }, "retention": rows,
                "fields": PublicSite.metadataFields.map { ["name": $0.name, "description": $0.description, "redactable": $0.redactable] },
                "steps": PublicSite.inRegionSteps.map { ["name": $0.name, "engine": $0.engine, "description": $0.description] },
            ]
        }

        var regions: [String: Any] {
            [
                "globalMX": site.catalog.service.mxHost,
                "regions": site.catalog.regions.map { region -> [String: Any] in
                    let policy = policy(region)
                    return [
                        "id": region.id.rawValue, "name": region.name, "location": region.location, "jurisdiction": region.jurisdiction,
                        "mxHost": region.mxHost, "metadata": PublicSite.duration(policy.messageMetadataSeconds),
                        "queue": PublicSite.duration(policy.queueLifetimeSeconds),
                    ]
                },
            ]
        }

        var subprocessors: [String: Any] {
            [
                "noticeDays": site.registry.noticeDays,
                "items": entries.filter { $0.state(at: date) != .retired || $0.effectiveUntil.map { date.timeIntervalSince($0) < 365 * 86_400 } == true }
                    .map { PublicSite.row($0, at: date) },
                "changes": versions.map { version -> [String: Any] in
                    var change: [String: Any] = [
                        "changedAt": CalendarDay(containing: version.changedAt).description, "change": version.change.rawValue, "name": version.entry.name,
                        "effectiveFrom": CalendarDay(containing: version.entry.effectiveFrom).description,
                    ]
                    if let until = version.entry.effectiveUntil { change["effectiveUntil"] = CalendarDay(containing: until).description }
                    return change
                },
            ]
        }

        var transparency: [String: Any] {
            [
                "reports": reports.map { entry -> [String: Any] in
                    let report = entry.report
                    let counts = { (rows: [TransparencyReport.Count]) in rows.map { ["key": $0.key, "count": $0.count] } }
                    return [
                        "period": report.period, "from": report.from, "through": report.through, "requests": report.requests,
                        "accountsAffected": report.accountsAffected, "hasRequests": report.requests > 0,
                        "byKind": counts(report.byKind), "byCountry": counts(report.byCountry), "byOutcome": counts(report.byOutcome),
                        "statusText": entry.frozen != nil ? "final, signed" : entry.closed ? "period over, not yet frozen" : "in progress",
                    ]
                }
            ]
        }

        var canaryPage: [String: Any] {
            guard let canary else { return [:] }
            return [
                "canary": [
                    "state": canaryState.state, "stateText": canaryState.text, "expired": canary.statement.isExpired(at: date),
                    "issuedAt": ISOTime.string(canary.statement.issuedAt),
                    "expiresAt": ISOTime.string(canary.statement.expiresAt), "text": canary.text,
                    "codes": CanaryCode.allCases.map { code -> [String: Any] in
                        ["code": code.rawValue, "statement": code.statement, "asserted": canary.statement.asserted.contains(code)]
                    },
                ] as [String: Any]
            ]
        }
    }

    /// `60 days`, `12 hours`, `7 years`: whole units as a person reads them.
    static func duration(_ seconds: Int64) -> String {
        func plural(_ n: Int64, _ unit: String) -> String { "\(n) \(unit)\(n == 1 ? "" : "s")" }
        if seconds % (365 * 86_400) == 0 { return plural(seconds / (365 * 86_400), "year") }
        if seconds % 86_400 == 0 { return plural(seconds / 86_400, "day") }
        if seconds % 3_600 == 0 { return plural(seconds / 3_600, "hour") }
        if seconds % 60 == 0 { return plural(seconds / 60, "minute") }
        return plural(seconds, "second")
    }

    /// The metadata record's fields (``MessageMetadata``), and whether a customer may have them left out.
    static let metadataFields: [(name: String, description: String, redactable: Bool)] = [
        ("received_at", "When the message arrived", false),
        (MetadataField.senderIP.rawValue, "The sending server's IP address, masked after the period above", true),
        (MetadataField.helo.rawValue, "The name the sending server gave in HELO/EHLO", true),
        (MetadataField.messageID.rawValue, "The Message-ID header", true),
        (MetadataField.envelopeFrom.rawValue, "The envelope sender (MAIL FROM)", true),
        (MetadataField.envelopeTo.rawValue, "The envelope recipient (RCPT TO)", true),
        (MetadataField.subject.rawValue, "The Subject header", true),
        (MetadataField.date.rawValue, "The Date header as the sender wrote it", true),
        ("size", "The message size in bytes", false),
        (MetadataField.tls.rawValue, "The TLS version and cipher of the connection", true),
        (MetadataField.serverResponse.rawValue, "The webhook's answer (status and start of its body)", true),
        (
            MetadataField.authentication.rawValue,
            "SPF, DKIM and DMARC results, with the sender, signer and From domains they name (checked in the region, by the node's own DNS lookups)",
            true
        ),
        ("processing_time", "How long delivery attempts took", false),
        ("config_version", "The signed config version in force, so it is provable which rules applied", false),
        ("flags", "Parser findings such as malformed headers", false),
        ("scan", "The spam score and matched rules, and the names of any viruses found", false),
    ]

    /// The processing steps every node runs on every message, on the operator's own servers in the region:
    /// not sub-processors, and no content leaves the region for them.
    static let inRegionSteps: [(name: String, engine: String, description: String)] = [
        (
            "Sender authentication", "Meridian (SPF, DKIM, DMARC)",
            "Looks up the DNS records the sender's domains publish (SPF, DKIM keys, DMARC policy) through the region's own resolver; the results go to the customer and into the message record"
        ),
        ("Spam scanning", "rspamd", "Scores the message against rules held on the node's own servers; the score and rules matched go to the customer"),
        ("Virus scanning", "ClamAV", "Checks the message and its attachments against signatures held on the node's own servers"),
    ]
}
