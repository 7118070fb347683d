/// The tags of one DKIM-Signature header field (RFC 6376 §3.5), checked for what verification needs.
public struct DKIMSignature: Sendable, Equatable {
    public enum Algorithm: String, Sendable {
        case rsaSHA256 = "rsa-sha256"
        case ed25519SHA256 = "ed25519-sha256"
        /// Parsed so the result can say why it is refused: RFC 8301 forbids accepting rsa-sha1.
        case rsaSHA1 = "rsa-sha1"
    }

    public enum Canonicalization: String, Sendable {
        case simple, relaxed
    }

    public var algorithm: Algorithm
    public var signature: [UInt8]
    public var bodyHash: [UInt8]
    public var headerCanonicalization: Canonicalization
    public var bodyCanonicalization: Canonicalization
    public var domain: String
    /// The header field names signed, lower case, in order.
    public var signedHeaders: [String]
    public var identity: String?
    public var bodyLength: Int?
    public var selector: String
    public var timestamp: Int?
    public var expiration: Int?

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public init(parsing value: String) throws(SyntaxError) {
        let tags: TagList
        do { tags = try TagList(parsing: value) } catch { throw SyntaxError(error.description) }
        func required(_ name: String) throws(SyntaxError) -> String {
            guard let value = tags[name], !value.isEmpty else { throw SyntaxError("the signature has no \(name)= tag") }
            return value
        }
        guard try required("v") == "1" else { throw SyntaxError("v=\(tags["v"] ?? "") is not version 1") }
        let algorithmName = try required("a").lowercased()
        guard let algorithm = Algorithm(rawValue: algorithmName) else { throw SyntaxError("a=\(algorithmName.prefix(40)) is not an algorithm this verifier knows") }
        self.algorithm = algorithm
        let (signature, cleanSignature) = TransferEncoding.decodeBase64(ArraySlice(try required("b").removingWhitespace().utf8))
        let (bodyHash, cleanHash) = TransferEncoding.decodeBase64(ArraySlice(try required("bh").removingWhitespace().utf8))
        guard cleanSignature, cleanHash, !signature.isEmpty, !bodyHash.isEmpty else { throw SyntaxError("b= or bh= is not base64") }
        self.signature = signature
        self.bodyHash = bodyHash
        let canonicalization = (tags["c"] ?? "simple/simple").lowercased().split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(canonicalization.count), let header = Canonicalization(rawValue: String(canonicalization[0])),
            let body = Canonicalization(rawValue: canonicalization.count == 2 ? String(canonicalization[1]) : "simple")
        else { throw SyntaxError("c=\(tags["c"]!.prefix(40)) is not a canonicalization") }
        headerCanonicalization = header
        bodyCanonicalization = body
        domain = try required("d").lowercased()
        guard DNSMessage.isQueryable(domain) else { throw SyntaxError("d=\(domain.prefix(80)) is not a domain") }
        selector = try required("s").lowercased()
        guard DNSMessage.isQueryable("\(selector)._domainkey.\(domain)") else { throw SyntaxError("s=\(selector.prefix(80)) is not a selector") }
        signedHeaders = try required("h").split(separator: ":").map { $0.trimmingWhitespace().lowercased() }
        guard signedHeaders.contains("from") else { throw SyntaxError("h= does not sign the From field") }
        identity = tags["i"]
        if let identity {
            let identityDomain = identity.split(separator: "@", omittingEmptySubsequences: false).last.map { $0.lowercased() } ?? ""
            guard identityDomain == domain || identityDomain.hasSuffix("." + domain) else {
                throw SyntaxError("i=\(identity.prefix(80)) is not in the domain d=\(domain)")
            }
        }
        func number(_ name: String) throws(SyntaxError) -> Int? {
            guard let text = tags[name] else { return nil }
            guard !text.isEmpty, text.count <= 76, text.allSatisfy(\.isASCIIDigit) else { throw SyntaxError("\(name)=\(text.prefix(40)) is not a number") }
            return Int(text) ?? Int.max  // beyond 64 bits: as good as for ever
        }
        bodyLength = try number("l")
        timestamp = try number("t")
        expiration = try number("x")
        if let timestamp, let expiration, expiration < timestamp { throw SyntaxError("x= is before t=") }
        if let query = tags["q"], !query.lowercased().split(separator: ":").contains("dns/txt") {
            throw SyntaxError("q=\(query.prefix(40)) names no query method this verifier knows")
        }
    }
}
