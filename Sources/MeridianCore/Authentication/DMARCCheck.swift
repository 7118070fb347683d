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
        let addresses = AddressList.mailboxes(raw).map { Array($0.address.utf8) }
        return addresses.map { address in
            let domain = address.split(separator: 0x40, omittingEmptySubsequences: false).last ?? []
            var text = String(decoding: domain, as: UTF8.self).lowercased()
            if text.hasSuffix(".") { text.removeLast() }
            return text
        }
    }
}
