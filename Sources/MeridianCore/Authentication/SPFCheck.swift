/// SPF's check_host() (RFC 7208 §4): whether `ip` may send mail for a domain, with the limits that keep a
/// hostile record from making the node a DNS amplifier: at most 10 terms that query DNS (include, a, mx, ptr,
/// exists, redirect), at most 2 of their lookups answering nothing (void), at most 10 MX or PTR names each.
public struct SPFCheck: Sendable {
    let dns: any DNSLookup
    public static let lookupLimit = 10
    public static let voidLookupLimit = 2
    static let namesPerLookupLimit = 10

    public init(dns: any DNSLookup) { self.dns = dns }

    /// Checks the MAIL FROM address `sender`, or `postmaster@helo` when the reverse path is empty (§2.4).
    public func check(ip: IPAddress, sender: String, helo: String) async -> SPFResult {
        var localPart = "postmaster"
        var domain = helo.lowercased()
        if let at = sender.lastIndex(of: "@") {
            let local = sender[..<at]
            if !local.isEmpty { localPart = String(local) }
            domain = sender[sender.index(after: at)...].lowercased()
        }
        if domain.hasSuffix(".") { domain.removeLast() }
        // An address literal or a bare name cannot publish SPF: none (§4.3).
        guard DomainName(domain) != nil else { return SPFResult(.none, domain: domain, reason: "not a domain name") }
        let ip = ip.embeddedIPv4.map { bytes -> IPAddress in
            if case .v6(let raw) = ip, raw[0..<10].allSatisfy({ $0 == 0 }), raw[10] == 0xFF, raw[11] == 0xFF { return .v4(bytes) }
            return ip
        } ?? ip
        let context = SPFMacro.Context(
            sender: "\(localPart)@\(domain)", localPart: localPart, senderDomain: domain, domain: domain, ip: ip, helo: helo.lowercased())
        let evaluation = Evaluation(dns: dns)
        let (kind, reason) = await evaluation.checkHost(domain, context: context, depth: 0)
        return SPFResult(kind, domain: domain, reason: reason)
    }

    typealias Outcome = (SPFResult.Kind, String?)

    /// The counters one check shares across its includes and redirects.
    final class Evaluation {
        let dns: any DNSLookup
        var lookups = 0
        var voids = 0

        init(dns: any DNSLookup) { self.dns = dns }

        struct Stop: Error {
            var outcome: Outcome
        }

        func checkHost(_ domain: String, context: SPFMacro.Context, depth: Int) async -> Outcome {
            do {
                return try await evaluate(domain, context: context, depth: depth)
            } catch {
                return error.outcome
            }
        }

        private func evaluate(_ domain: String, context: SPFMacro.Context, depth: Int) async throws(Stop) -> Outcome {
            guard DNSMessage.isQueryable(domain), domain.contains(".") else { return (.none, "\(domain) is not a domain name") }
            let answer: DNSAnswer
            do {
                answer = try await dns.lookup(domain, .txt)
            } catch {
                return (.temperror, "the TXT lookup of \(domain) failed: \(error)")
            }
            let records = answer.txt.filter(SPFRecord.isSPF)
            guard !records.isEmpty else { return (.none, "\(domain) publishes no SPF record") }
            guard records.count == 1 else { return (.permerror, "\(domain) publishes \(records.count) SPF records") }
            let record: SPFRecord
            do {
                record = try SPFRecord(parsing: records[0])
            } catch {
                return (.permerror, "the SPF record of \(domain): \(error)")
            }
            var context = context
            context.domain = domain
            for directive in record.directives {
                if try await matches(directive.mechanism, context: context, depth: depth) {
                    switch directive.qualifier {
                    case .pass: return (.pass, nil)
                    case .fail: return (.fail, nil)
                    case .softfail: return (.softfail, nil)
                    case .neutral: return (.neutral, nil)
                    }
                }
            }
            if let redirect = record.redirect {
                try countLookup()
                let target = try expand(redirect, context)
                let (kind, reason) = await checkHost(target, context: context, depth: depth + 1)
                // A redirect to a domain with no SPF record is an error in the record that redirects (§6.1).
                return kind == .none ? (.permerror, "redirect=\(target) has no SPF record") : (kind, reason)
            }
            return (.neutral, "no mechanism matched")
        }

        private func matches(_ mechanism: SPFRecord.Mechanism, context: SPFMacro.Context, depth: Int) async throws(Stop) -> Bool {
            if mechanism.queriesDNS { try countLookup() }
            switch mechanism {
            case .all:
                return true
            case .ip4(let network), .ip6(let network):
                return network.contains(context.ip)
            case .include(let spec):
                let target = try expand(spec, context)
                guard depth < 20 else { throw Stop(outcome: (.permerror, "includes nest too deep")) }
                let (kind, reason) = await checkHost(target, context: context, depth: depth + 1)
                switch kind {
                case .pass: return true
                case .fail, .softfail, .neutral: return false
                case .temperror: throw Stop(outcome: (.temperror, reason))
                case .permerror, .none: throw Stop(outcome: (.permerror, "include:\(target): \(reason ?? "\(kind)")"))
                }
            case .a(let spec, let v4, let v6):
                let target = try spec.map { spec throws(Stop) in try expand(spec, context) } ?? context.domain
                return try await addresses(of: target, for: context.ip).contains { network($0, v4, v6).contains(context.ip) }
            case .mx(let spec, let v4, let v6):
                let target = try spec.map { spec throws(Stop) in try expand(spec, context) } ?? context.domain
                let exchanges = try await query(target, .mx).mx
                guard exchanges.count <= SPFCheck.namesPerLookupLimit else {
                    throw Stop(outcome: (.permerror, "\(target) has more than \(SPFCheck.namesPerLookupLimit) MX records"))
                }
                for exchange in exchanges {
                    if try await addresses(of: exchange.host, for: context.ip).contains(where: { network($0, v4, v6).contains(context.ip) }) {
                        return true
                    }
                }
                return false
            case .ptr(let spec):
                let target = try spec.map { spec throws(Stop) in try expand(spec, context) } ?? context.domain
                return await validatedNames(of: context.ip).contains { $0 == target || $0.hasSuffix("." + target) }
            case .exists(let spec):
                let target = try expand(spec, context)
                return try await !query(target, .a).addresses.isEmpty
            }
        }

        private func network(_ address: IPAddress, _ v4: Int, _ v6: Int) -> IPNetwork {
            if case .v4 = address { IPNetwork(address, prefixLength: v4) } else { IPNetwork(address, prefixLength: v6) }
        }

        private func addresses(of name: String, for ip: IPAddress) async throws(Stop) -> [IPAddress] {
            if case .v4 = ip { try await query(name, .a).addresses } else { try await query(name, .aaaa).addresses }
        }

        /// The PTR names of `ip` whose own addresses include it (§5.5); lookup failures just drop names.
        private func validatedNames(of ip: IPAddress) async -> [String] {
            let reverse: String =
                switch ip {
                case .v4(let bytes): bytes.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
                case .v6: SPFMacro.dotted(ip).split(separator: ".").reversed().joined(separator: ".") + ".ip6.arpa"
                }
            guard let names = try? await dns.lookup(reverse, .ptr).names else { return [] }
            var validated: [String] = []
            for name in names.prefix(SPFCheck.namesPerLookupLimit) {
                let type: DNSMessage.RecordType = if case .v4 = ip { .a } else { .aaaa }
                if let answer = try? await dns.lookup(name, type), answer.addresses.contains(ip) { validated.append(name) }
            }
            return validated
        }

        /// A lookup made for a mechanism: failures are temperror, and answers with nothing count as void.
        private func query(_ name: String, _ type: DNSMessage.RecordType) async throws(Stop) -> DNSAnswer {
            guard DNSMessage.isQueryable(name) else { throw Stop(outcome: (.permerror, "\(name.prefix(80)) is not a domain name")) }
            let answer: DNSAnswer
            do {
                answer = try await dns.lookup(name, type)
            } catch {
                throw Stop(outcome: (.temperror, "the \(type) lookup of \(name) failed: \(error)"))
            }
            if answer.records.isEmpty {
                voids += 1
                guard voids <= SPFCheck.voidLookupLimit else {
                    throw Stop(outcome: (.permerror, "more than \(SPFCheck.voidLookupLimit) lookups found nothing"))
                }
            }
            return answer
        }

        private func countLookup() throws(Stop) {
            lookups += 1
            guard lookups <= SPFCheck.lookupLimit else {
                throw Stop(outcome: (.permerror, "more than \(SPFCheck.lookupLimit) DNS-querying terms"))
            }
        }

        private func expand(_ spec: String, _ context: SPFMacro.Context) throws(Stop) -> String {
            do {
                return SPFMacro.truncated(try SPFMacro.expand(spec, with: context).lowercased())
            } catch {
                throw Stop(outcome: (.permerror, error.description))
            }
        }
    }
}
