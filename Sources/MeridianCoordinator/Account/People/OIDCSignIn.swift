import AsyncHTTPClient
import Crypto
import Foundation
import MeridianCore
import NIOCore
import _CryptoExtras

/// The OpenID Connect provider people may sign in with instead of a password (the operator's Google Workspace,
/// GitHub through an OIDC bridge, Keycloak...): `meridian coordinator --oidc-issuer --oidc-client-id
/// --oidc-client-secret-file`.
public struct OIDCSettings: Sendable {
    public var issuer: String
    public var clientID: String
    public var clientSecret: String
    /// What the sign-in button says: "Sign in with <name>".
    public var name: String
    /// Lets the issuer be `http` (a provider on loopback in tests); production issuers are `https`.
    public var allowHTTP = false

    public init(issuer: String, clientID: String, clientSecret: String, name: String, allowHTTP: Bool = false) {
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.name = name
        self.allowHTTP = allowHTTP
    }
}

/// The authorization code flow (OpenID Connect Core 1.0, section 3.1) with PKCE (RFC 7636, S256), a `state`
/// against login CSRF and a `nonce` against replayed ID tokens. The ID token comes straight from the token
/// endpoint and is still checked in full: its RS256 signature against the provider's published keys (fetched
/// again once when a key id is new), `iss`, `aud`, `exp`, `iat` and `nonce`. Only a verified e-mail address is
/// taken. It signs in people who are users already (invited); it never creates one.
actor OIDCSignIn {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// What the browser carries between the redirect to the provider and the way back, sealed in a cookie.
    struct Pending: Codable, Sendable {
        var state: String
        var nonce: String
        var verifier: String
        var expires: Date
    }

    /// Who the provider says signed in.
    struct Identity: Sendable {
        var subject: String
        var email: String
    }

    private struct Discovery: Decodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint", tokenEndpoint = "token_endpoint", jwksURI = "jwks_uri"
        }
    }

    let settings: OIDCSettings
    let redirectURI: String
    private var discovery: Discovery?
    private var keys: [String: _RSA.Signing.PublicKey] = [:]
    private var http: HTTPClient { HTTPClient.shared }
    static let window: TimeInterval = 600

    init(settings: OIDCSettings, redirectURI: String) {
        self.settings = settings
        self.redirectURI = redirectURI
    }

    /// Where to send the browser, and what it must bring back.
    func start(at date: Date) async throws -> (url: String, pending: Pending) {
        let found = try await discovered()
        let pending = Pending(state: Base64URL.random(bytes: 32), nonce: Base64URL.random(bytes: 32), verifier: Base64URL.random(bytes: 48), expires: date.addingTimeInterval(Self.window))
        guard var components = URLComponents(string: found.authorizationEndpoint) else { throw Failure("the provider's authorization endpoint is not a URL") }
        components.queryItems = (components.queryItems ?? []) + [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI), URLQueryItem(name: "scope", value: "openid email"),
            URLQueryItem(name: "state", value: pending.state), URLQueryItem(name: "nonce", value: pending.nonce),
            URLQueryItem(name: "code_challenge", value: Base64URL.encode(SHA256.hash(data: Data(pending.verifier.utf8)))),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        guard let url = components.string else { throw Failure("the provider's authorization endpoint is not a URL") }
        return (url, pending)
    }

    /// Exchanges the code for an ID token and checks it; the verified identity, or a ``Failure`` saying why not.
    func finish(code: String, pending: Pending, at date: Date) async throws -> Identity {
        let found = try await discovered()
        var request = HTTPClientRequest(url: found.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let basic = "\(Self.formEncoded(settings.clientID)):\(Self.formEncoded(settings.clientSecret))"
        request.headers.add(name: "Authorization", value: "Basic " + Data(basic.utf8).base64EncodedString())
        let form = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", pending.verifier),
        ].map { "\($0.0)=\(Self.formEncoded($0.1))" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw Failure("the provider's token endpoint answered \(response.status.code)") }
        guard let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], let token = json["id_token"] as? String else {
            throw Failure("the provider's token endpoint gave no ID token")
        }
        return try await verify(token, nonce: pending.nonce, issuer: found.issuer, at: date)
    }

    /// Checks an ID token (a compact JWS, RS256) and reads its subject and verified e-mail address.
    func verify(_ token: String, nonce: String, issuer: String, at date: Date) async throws -> Identity {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URL(parts[0]), let payloadBytes = Self.base64URL(parts[1]),
            let signature = Self.base64URL(parts[2]),
            let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any],
            let claims = try? JSONSerialization.jsonObject(with: payloadBytes) as? [String: Any]
        else { throw Failure("the ID token is not a signed JWT") }
        guard header["alg"] as? String == "RS256" else { throw Failure("the ID token is signed with \(header["alg"] ?? "nothing"), not RS256") }
        let key = try await signingKey(header["kid"] as? String)
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: signed), padding: .insecurePKCS1v1_5) else {
            throw Failure("the ID token's signature does not verify with the provider's keys")
        }
        guard claims["iss"] as? String == issuer else { throw Failure("the ID token is from another issuer") }
        let audience = (claims["aud"] as? String).map { [$0] } ?? (claims["aud"] as? [String]) ?? []
        guard audience.contains(settings.clientID) else { throw Failure("the ID token is for another client") }
        guard let exp = (claims["exp"] as? NSNumber)?.doubleValue, Date(timeIntervalSince1970: exp) > date.addingTimeInterval(-60) else {
            throw Failure("the ID token has expired")
        }
        if let iat = (claims["iat"] as? NSNumber)?.doubleValue, Date(timeIntervalSince1970: iat) > date.addingTimeInterval(300) {
            throw Failure("the ID token is issued in the future")
        }
        guard let given = claims["nonce"] as? String, ConstantTime.equal(Array(given.utf8), Array(nonce.utf8)) else {
            throw Failure("the ID token's nonce is not this sign-in's")
        }
        guard let subject = claims["sub"] as? String, !subject.isEmpty else { throw Failure("the ID token names no subject") }
        let verified = (claims["email_verified"] as? Bool) ?? ((claims["email_verified"] as? String) == "true")
        guard let email = claims["email"] as? String, verified else {
            throw Failure("the provider did not give a verified e-mail address (scope email)")
        }
        return Identity(subject: "\(issuer) \(subject)", email: email.lowercased())
    }

    /// Takes `key` as the provider's key `kid`, as if its key set had said so (the ID token checks' own tests).
    func trust(_ key: _RSA.Signing.PublicKey, kid: String) {
        keys[kid] = key
    }

    private func discovered() async throws -> Discovery {
        if let discovery { return discovery }
        let base = settings.issuer.hasSuffix("/") ? String(settings.issuer.dropLast()) : settings.issuer
        let found = try JSONDecoder().decode(Discovery.self, from: try await get(base + "/.well-known/openid-configuration"))
        guard found.issuer == settings.issuer || found.issuer == base else {
            throw Failure("the provider calls itself \(found.issuer), not \(settings.issuer)")
        }
        for url in [found.authorizationEndpoint, found.tokenEndpoint, found.jwksURI] where !allowed(url) {
            throw Failure("the provider's endpoint \(url) is not https")
        }
        discovery = found
        return found
    }

    private func signingKey(_ kid: String?) async throws -> _RSA.Signing.PublicKey {
        if let key = keys[kid ?? ""] ?? (kid == nil ? keys.values.first : nil) { return key }
        let found = try await discovered()
        guard let json = try JSONSerialization.jsonObject(with: try await get(found.jwksURI)) as? [String: Any], let list = json["keys"] as? [[String: Any]] else {
            throw Failure("the provider's keys do not read as a JWK set")
        }
        keys = [:]
        for jwk in list where jwk["kty"] as? String == "RSA" {
            guard let n = (jwk["n"] as? String).flatMap({ Self.base64URL($0[...]) }), let e = (jwk["e"] as? String).flatMap({ Self.base64URL($0[...]) }),
                let key = try? _RSA.Signing.PublicKey(n: n, e: e)
            else { continue }
            keys[jwk["kid"] as? String ?? ""] = key
        }
        guard let key = keys[kid ?? ""] ?? (kid == nil ? keys.values.first : nil) else { throw Failure("the provider publishes no RSA key \(kid ?? "")") }
        return key
    }

    private func get(_ url: String) async throws -> Data {
        guard allowed(url) else { throw Failure("\(url) is not https") }
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw Failure("\(url) answered \(response.status.code)") }
        return Data(buffer: body)
    }

    private func allowed(_ url: String) -> Bool {
        url.lowercased().hasPrefix("https://") || (settings.allowHTTP && url.lowercased().hasPrefix("http://"))
    }

    static func base64URL(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    /// `application/x-www-form-urlencoded` (RFC 6749 appendix B, for the client id and secret too).
    static func formEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
    }
}
