/// DMARC (RFC 7489): finds the policy of the From domain (or of its organizational domain) and whether SPF
/// or DKIM passed for a domain aligned with it.
public struct DMARCCheck: Sendable {
    let dns: any DNSLookup
    let suffixes: PublicSuffixList

    public init(dns: any DNSLookup, suffixes: PublicSuffixList) {
        self.dns = dns
        self.suffixes = suffixes
    }

    /// `fromFields` are the raw values of every From header field of the message.
    public func check(fromFields: [[UInt8]], spf: SPFResult, dkim: [DKIMResult]) async -> DMARCResult {
        guard fromFields.count == 1 else {
            return DMARCResult(.permerror, fromDomain: "", reason: fromFields.isEmpty ? "the message has no From field" : "the message has \(fromFields.count) From fields")
        }
        let domains = Self.domains(inAddressList: fromFields[0])
        guard domains.count == 1, let from = domains.first else {
            return DMARCResult(.permerror, fromDomain: "", reason: domains.isEmpty ? "the From field has no address" : "the From field has several addresses")
        }
        guard DomainName(from) != nil else { return DMARCResult(.none, fromDomain: from, reason: "the From domain is not a domain name") }
        let organizational = suffixes.organizationalDomain(of: from)
        var result = DMARCResult(.none, fromDomain: from, organizationalDomain: organizational)
        let found: (record: DMARCRecord, atOrganization: Bool)?
        do {
            found = try await record(for: from, organizational: organizational)
        } catch let error as DNSLookupError {
            result.result = .temperror
            result.reason = "the DMARC lookup failed: \(error)"
            return result
        } catch let error as DMARCRecord.SyntaxError {
            result.result = .permerror
            result.reason = "the DMARC record: \(error)"
            return result
        } catch {
            result.result = .temperror
            return result
        }
        guard let (record, atOrganization) = found else {
            result.reason = "\(from) publishes no DMARC policy"
            return result
        }
        result.policy = atOrganization && from != organizational ? record.subdomainPolicy ?? record.policy : record.policy
        func aligned(_ domain: String, _ mode: DMARCRecord.Alignment) -> Bool {
            let domain = domain.lowercased()
            return mode == .strict ? domain == from : suffixes.organizationalDomain(of: domain) == organizational
        }
        result.spfAligned = spf.result == .pass && aligned(spf.domain, record.spfAlignment)
        result.dkimAligned = dkim.contains { $0.result == .pass && aligned($0.domain, record.dkimAlignment) }
        result.result = result.spfAligned || result.dkimAligned ? .pass : .fail
        return result
    }

    /// The record at `_dmarc.<from>`, else at `_dmarc.<organizational domain>` (§6.6.3). Several records at
    /// one name are as good as none.
    private func record(for from: String, organizational: String) async throws -> (DMARCRecord, Bool)? {
        for (name, atOrganization) in [(from, false), (organizational, true)] {
            if atOrganization && name == from { break }
            let records = try await dns.lookup("_dmarc.\(name)", .txt).txt.filter(DMARCRecord.isDMARC)
            if records.count == 1 { return (try DMARCRecord(parsing: records[0]), atOrganization) }
        }
        return nil
    }

    /// The domains of the addresses in an address list (RFC 5322 §3.4), lower case: comments and quoted
    /// strings are skipped, an address in angle brackets wins over the display name, groups are opened.
    static func domains(inAddressList raw: [UInt8]) -> [String] {
        var addresses: [[UInt8]] = []
        var current: [UInt8] = []
        var angle: [UInt8]? = nil
        var inAngle = false
        var depth = 0
        var quoted = false
        var escaped = false
        func flush() {
            let address = angle ?? current
            if address.contains(0x40) { addresses.append(address) }
            current = []
            angle = nil
        }
        for byte in raw {
            if escaped {
                escaped = false
                continue
            }
            if byte == 0x5C && (quoted || depth > 0) {
                escaped = true
                continue
            }
            if quoted {
                if byte == 0x22 { quoted = false }
                continue
            }
            if depth > 0 {
                if byte == 0x28 { depth += 1 } else if byte == 0x29 { depth -= 1 }
                continue
            }
            switch byte {
            case 0x22: quoted = true
            case 0x28: depth = 1
            case 0x3C:
                inAngle = true
                angle = []
            case 0x3E: inAngle = false
            case 0x2C, 0x3B:  // "," between addresses; ";" ends a group
                if !inAngle { flush() }
            case 0x3A where !inAngle:
                current = []  // "group:" opens a group; what came before was its name
            case 0x20, 0x09, 0x0D, 0x0A:
                break
            default:
                if inAngle { angle?.append(byte) } else { current.append(byte) }
            }
        }
        flush()
        return addresses.map { address in
            let domain = address.split(separator: 0x40, omittingEmptySubsequences: false).last ?? []
            var text = String(decoding: domain, as: UTF8.self).lowercased()
            if text.hasSuffix(".") { text.removeLast() }
            return text
        }
    }
}
