import Crypto
import Foundation
import _CryptoExtras

/// Verifies the DKIM signatures of a message (RFC 6376 §6, RFC 8463 for ed25519-sha256, RFC 8301's rules):
/// the first ``signatureLimit`` DKIM-Signature fields from the top, each with its key looked up in DNS.
public struct DKIMVerifier: Sendable {
    let dns: any DNSLookup
    let now: @Sendable () -> Date
    /// Signatures past this many are not checked (a message with 50 costs no more than one with 10).
    public static let signatureLimit = 10

    public init(dns: any DNSLookup, now: @escaping @Sendable () -> Date = Date.init) {
        self.dns = dns
        self.now = now
    }

    public func verify(_ data: [UInt8]) async -> [DKIMResult] {
        let message = DKIMMessage(data)
        let signatures = message.fields.filter { $0.name == "dkim-signature" }.prefix(Self.signatureLimit)
        guard !signatures.isEmpty else { return [] }
        var results: [DKIMResult] = []
        for field in signatures {
            results.append(await verify(field, in: message))
        }
        return results
    }

    private func verify(_ field: DKIMMessage.Field, in message: DKIMMessage) async -> DKIMResult {
        let value = String(decoding: field.raw.drop(while: { $0 != 0x3A }).dropFirst(), as: UTF8.self)
        let signature: DKIMSignature
        do {
            signature = try DKIMSignature(parsing: value)
        } catch {
            let tags = try? TagList(parsing: value)
            return DKIMResult(.permerror, domain: tags?["d"]?.lowercased() ?? "", selector: tags?["s"] ?? "", reason: error.description)
        }
        var result = DKIMResult(
            .fail, domain: signature.domain, selector: signature.selector, signature: Self.shortSignature(signature.signature))
        func finish(_ kind: DKIMResult.Kind, _ reason: String?) -> DKIMResult {
            result.result = kind
            result.reason = reason
            return result
        }
        if signature.algorithm == .rsaSHA1 { return finish(.policy, "rsa-sha1 signatures are not accepted (RFC 8301)") }
        if let expiration = signature.expiration, expiration < Int(now().timeIntervalSince1970) {
            return finish(.policy, "the signature expired")
        }
        let keyName = "\(signature.selector)._domainkey.\(signature.domain)"
        let records: [String]
        do {
            records = try await dns.lookup(keyName, .txt).txt
        } catch {
            return finish(.temperror, "the key lookup failed: \(error)")
        }
        guard let record = records.first else { return finish(.permerror, "no key is published at \(keyName)") }
        let key: DKIMKey
        do {
            key = try DKIMKey(parsing: record, for: signature.algorithm)
        } catch .unacceptable(let why) {
            return finish(.policy, why)
        } catch {
            return finish(.permerror, error.description)
        }
        if key.strictIdentity, let identity = signature.identity,
            identity.split(separator: "@").last.map({ $0.lowercased() }) != signature.domain
        {
            return finish(.permerror, "the key requires i= to be in d= itself (t=s)")
        }
        // The body hash first: a changed body fails without any public-key work.
        var body = DKIMCanonicalization.body(message.body, signature.bodyCanonicalization)
        if let length = signature.bodyLength {
            guard length <= body.count else { return finish(.permerror, "l=\(length) is longer than the body") }
            body.removeLast(body.count - length)
        }
        guard Array(SHA256.hash(data: body)) == signature.bodyHash else { return finish(.fail, "the body hash does not match") }
        var hasher = SHA256()
        // Each name in h= takes the last unused field of that name, going up (§5.4.2); a name with none left
        // signs nothing.
        var used = Set<Int>()
        for name in signature.signedHeaders {
            guard let index = message.fields.indices.last(where: { message.fields[$0].name == name && !used.contains($0) }) else { continue }
            used.insert(index)
            hasher.update(data: DKIMCanonicalization.header(message.fields[index].raw, signature.headerCanonicalization))
        }
        var own = DKIMCanonicalization.header(DKIMCanonicalization.withoutSignatureValue(field.raw), signature.headerCanonicalization)
        if own.count >= 2, own.suffix(2) == [0x0D, 0x0A] { own.removeLast(2) }
        hasher.update(data: own)
        let digest = hasher.finalize()
        let valid: Bool
        switch key.material {
        case .rsa(let publicKey):
            valid = publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature.signature), for: digest, padding: .insecurePKCS1v1_5)
        case .ed25519(let publicKey):
            valid = publicKey.isValidSignature(signature.signature, for: Array(digest))
        }
        return valid ? finish(.pass, nil) : finish(.fail, "the signature does not verify")
    }

    static func shortSignature(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        Base64Encoder.append(Array(bytes.prefix(6)), to: &output)
        return String(decoding: output.prefix(8), as: UTF8.self)
    }
}
