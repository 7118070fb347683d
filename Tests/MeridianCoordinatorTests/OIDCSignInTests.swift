import Crypto
import Foundation
import MeridianCore
import Testing
import _CryptoExtras

@testable import MeridianCoordinator

/// The ID token checks of sign-in through an OpenID Connect provider, one failure at a time. The whole flow
/// against a real provider (django-oidc-provider on loopback) is Tests/system/test_oidc.py.
@Suite("OpenID Connect: the ID token's checks")
struct OIDCSignInTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let issuer = "https://sso.example/openid"
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func token(header: [String: Any] = ["alg": "RS256", "kid": "k1"], _ change: (inout [String: Any]) -> Void = { _ in }, key: _RSA.Signing.PrivateKey = key)
        throws -> String
    {
        var claims: [String: Any] = [
            "iss": issuer, "aud": "meridian", "sub": "42", "nonce": "n0nce", "exp": now.timeIntervalSince1970 + 600,
            "iat": now.timeIntervalSince1970, "email": "Olive@Globex.example", "email_verified": true,
        ]
        change(&claims)
        let encode = { (object: [String: Any]) in Base64URL.encode(try JSONSerialization.data(withJSONObject: object)) }
        let signed = try encode(header) + "." + encode(claims)
        let signature = try key.signature(for: SHA256.hash(data: Data(signed.utf8)), padding: .insecurePKCS1v1_5)
        return signed + "." + Base64URL.encode(signature.rawRepresentation)
    }

    static func client() async -> OIDCSignIn {
        let client = OIDCSignIn(
            settings: OIDCSettings(issuer: issuer, clientID: "meridian", clientSecret: "s", name: "SSO"), redirectURI: "https://m.example/account/oidc/callback")
        await client.trust(key.publicKey, kid: "k1")
        return client
    }

    func refusal(_ token: String, nonce: String = "n0nce") async -> String? {
        do {
            _ = try await Self.client().verify(token, nonce: nonce, issuer: Self.issuer, at: Self.now)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("a good token gives the subject and the verified address")
    func good() async throws {
        let identity = try await Self.client().verify(try Self.token(), nonce: "n0nce", issuer: Self.issuer, at: Self.now)
        #expect(identity.subject == "\(Self.issuer) 42" && identity.email == "olive@globex.example")
    }

    @Test("each broken promise is refused, saying which")
    func refusals() async throws {
        #expect(await refusal(try Self.token(), nonce: "another") == "the ID token's nonce is not this sign-in's")
        #expect(await refusal(try Self.token { $0["aud"] = "someone-else" }) == "the ID token is for another client")
        #expect(await refusal(try Self.token { $0["aud"] = ["x", "meridian"] }) == nil, "an audience list that holds us")
        #expect(await refusal(try Self.token { $0["iss"] = "https://evil.example" }) == "the ID token is from another issuer")
        #expect(await refusal(try Self.token { $0["exp"] = Self.now.timeIntervalSince1970 - 3600 }) == "the ID token has expired")
        #expect(await refusal(try Self.token { $0["email_verified"] = false })?.hasPrefix("the provider did not give a verified e-mail") == true)
        #expect(await refusal(try Self.token(header: ["alg": "none", "kid": "k1"]))?.contains("not RS256") == true)
        #expect(await refusal(try Self.token(key: try _RSA.Signing.PrivateKey(keySize: .bits2048)))?.contains("does not verify") == true)
        let good = try Self.token()
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(try JSONSerialization.data(withJSONObject: ["iss": Self.issuer, "aud": "meridian", "sub": "1", "nonce": "n0nce"]))
        #expect(await refusal(parts.joined(separator: "."))?.contains("does not verify") == true, "a payload changed after signing")
        #expect(await refusal("not.a.jwt") == "the ID token is not a signed JWT")
    }
}
