import Foundation
import MeridianCore

/// The machine-readable side of the public site: JSON for each page and the Atom feed of registry changes.
extension PublicSite.Snapshot {
    var privacyJSON: [String: Any] {
        [
            "config_version": configVersion as Any,
            "retention": Dictionary(uniqueKeysWithValues: site.catalog.regions.map { region in
                (region.id.rawValue, Dictionary(uniqueKeysWithValues: Self.retentionRows.map {
                    ($0.key + "_seconds", $0.seconds(region, policy(region)))
                }))
            }),
            "ip_masking": Dictionary(uniqueKeysWithValues: site.catalog.regions.map { region in
                let policy = policy(region)
                return (region.id.rawValue, ["ipv4_keep_octets": policy.ipv4KeepOctets, "ipv6_keep_hextets": policy.ipv6KeepHextets])
            }),
            "metadata_fields": PublicSite.metadataFields.map { ["name": $0.name, "description": $0.description, "redactable": $0.redactable] },
        ]
    }

    var regionsJSON: [[String: Any]] {
        site.catalog.regions.map { region in
            let policy = policy(region)
            return [
                "id": region.id.rawValue, "name": region.name, "location": region.location, "jurisdiction": region.jurisdiction,
                "mx_host": region.mxHost, "message_metadata_seconds": policy.messageMetadataSeconds,
                "queue_lifetime_seconds": policy.queueLifetimeSeconds,
            ]
        }
    }

    var subprocessorsJSON: [String: Any] {
        [
            "notice_days": site.registry.noticeDays,
            "subprocessors": entries.map { entry -> [String: Any] in
                [
                    "id": entry.id, "name": entry.name, "legal_entity": entry.legalEntity, "purpose": entry.purpose,
                    "data_categories": entry.dataCategories, "regions": entry.regions.map(\.rawValue), "locations": entry.locations,
                    "transfer_mechanism": entry.transferMechanism, "dpa_in_place": entry.dpaInPlace, "steps": entry.steps.map(\.rawValue),
                    "announced_at": ISOTime.string(entry.announcedAt), "effective_from": ISOTime.string(entry.effectiveFrom),
                    "effective_until": entry.effectiveUntil.map(ISOTime.string) as Any, "state": entry.state(at: date).rawValue,
                    "demo": entry.demo, "version": entry.version,
                ]
            },
        ]
    }

    func reportJSON(_ entry: Publications.PeriodReport) -> [String: Any] {
        let report = entry.report
        let counts = { (rows: [TransparencyReport.Count]) in rows.map { ["key": $0.key, "count": $0.count] } }
        var json: [String: Any] = [
            "period": report.period, "from": report.from, "through": report.through, "requests": report.requests,
            "accounts_affected": report.accountsAffected, "by_kind": counts(report.byKind), "by_country": counts(report.byCountry),
            "by_outcome": counts(report.byOutcome), "generated_at": ISOTime.string(report.generatedAt),
            "status": entry.frozen != nil ? "frozen" : entry.closed ? "closed" : "open",
        ]
        if let frozen = entry.frozen {
            json["report_json"] = frozen.json
            json["signature"] = frozen.signature.base64EncodedString()
        }
        return json
    }

    var canaryJSON: [String: Any] {
        guard let canary else { return ["state": "none"] }
        return [
            "state": canary.statement.isExpired(at: date) ? "expired" : "current", "sequence": canary.statement.sequence,
            "issued_at": ISOTime.string(canary.statement.issuedAt),
            "expires_at": ISOTime.string(canary.statement.expiresAt),
            "asserted": canary.statement.asserted.map(\.rawValue), "withheld": canary.statement.withheld.map(\.rawValue),
            "text": canary.text, "signature": canary.signature.base64EncodedString(),
            "public_key": site.publications.key.map { Ed25519PEM.encode($0.publicKey) } as Any,
        ]
    }

    // MARK: - Atom

    var atom: String {
        let zone = site.catalog.service.dnsZone
        let updated = versions.map(\.changedAt).max() ?? Date(timeIntervalSince1970: 0)
        var lines = [
            #"<?xml version="1.0" encoding="utf-8"?>"#,
            #"<feed xmlns="http://www.w3.org/2005/Atom">"#,
            "<title>\(PublicSite.xml(site.catalog.service.name)): sub-processor changes</title>",
            "<id>urn:meridian:\(PublicSite.xml(zone)):subprocessors</id>",
            #"<link rel="self" href="/subprocessors.atom"/>"#,
            #"<link rel="alternate" type="text/html" href="/subprocessors"/>"#,
            "<updated>\(ISOTime.string(updated))</updated>",
            "<author><name>\(PublicSite.xml(site.catalog.service.controller.name))</name></author>",
        ]
        for version in versions {
            let entry = version.entry
            let verb = switch version.change {
            case .added: "New sub-processor"
            case .changed: "Changed"
            case .retired: "Retiring"
            }
            var summary = "\(entry.name) (\(entry.legalEntity)): \(entry.purpose). Regions: \(entry.regions.map(\.rawValue).joined(separator: ", ")). "
            summary += "Effective from \(ISOTime.string(entry.effectiveFrom))"
            if let until = entry.effectiveUntil { summary += " until \(ISOTime.string(until))" }
            summary += "."
            lines += [
                "<entry>",
                "<id>urn:meridian:\(PublicSite.xml(zone)):subprocessor:\(PublicSite.xml(entry.id)):\(entry.version)</id>",
                "<title>\(verb): \(PublicSite.xml(entry.name)), effective \(CalendarDay(containing: entry.effectiveFrom))</title>",
                "<updated>\(ISOTime.string(version.changedAt))</updated>",
                #"<link rel="alternate" type="text/html" href="/subprocessors"/>"#,
                "<summary>\(PublicSite.xml(summary))</summary>",
                "</entry>",
            ]
        }
        lines.append("</feed>")
        return lines.joined(separator: "\n") + "\n"
    }

    func json(_ path: String, _ object: [String: Any]) -> PublicSite.Document {
        var object = object
        object["generated_at"] = ISOTime.string(date)
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return PublicSite.Document(path: path, contentType: "application/json", body: data + Data("\n".utf8))
    }
}

extension PublicSite {
    static func xml(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
