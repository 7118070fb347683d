import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdOTP
import HummingbirdTesting
import MeridianCore
import NIOCore
import Testing

@testable import MeridianCoordinator

/// The dashboard's people: invitations, passwords, the TOTP second factor and recovery codes, sessions kept in
/// the database. Driven as a browser without JavaScript drives the pages: forms, cookies and redirects.
/// (The pages in a real browser: Tests/system/test_account.py.)
@Suite("Dashboard people: invitations, passwords, second factor, sessions", .serialized)
struct AccountPeopleTests {
    /// A browser's cookie jar and forms over HummingbirdTesting's router transport.
    struct Browser {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]

        mutating func get(_ path: String) async throws -> (HTTPResponse.Status, String, location: String?) {
            try await send(.get, path, body: nil)
        }

        mutating func post(_ path: String, _ fields: [String: String]) async throws -> (HTTPResponse.Status, String, location: String?) {
            var form = URLComponents()
            form.queryItems = fields.map { URLQueryItem(name: $0.key, value: $0.value) }
            let body = (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
            return try await send(.post, path, body: body)
        }

        private mutating func send(_ method: HTTPRequest.Method, _ path: String, body: String?) async throws -> (HTTPResponse.Status, String, location: String?) {
            var headers = HTTPFields()
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
            let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
            for cookie in response.headers[values: .setCookie] {
                let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                if cookie.contains("Max-Age=0") || pair.count < 2 || pair[1].isEmpty { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair[1] }
            }
            return (response.status, String(buffer: response.body), response.headers[.location])
        }

        /// The first form's CSRF token on a page.
        static func csrf(_ page: String) -> String {
            page.firstMatch(of: /name="csrf" value="([^"]*)"/).map { String($0.1) } ?? ""
        }

        static func field(_ page: String, _ name: String) -> String? {
            page.firstMatch(of: try! Regex("name=\"\(name)\" value=\"([^\"]*)\"")).flatMap { $0.output[1].substring.map(String.init) }
        }

        mutating func signIn(_ email: String, _ password: String) async throws -> (HTTPResponse.Status, String, location: String?) {
            let page = try await get("/account").1
            return try await post("/account/sign-in", ["email": email, "password": password, "csrf": Self.csrf(page)])
        }

        mutating func signOut() async throws {
            let page = try await get("/account").1
            _ = try await post("/account/sign-out", ["csrf": Self.csrf(page)])
        }
    }

    /// Invites `email` with the customer's token and returns the link's path.
    static func invite(_ harness: APITestHarness, _ client: any TestClientProtocol, _ email: String, role: String = "owner") async throws -> String {
        let created = try await client.json(
            .post, "/v1/customers/\(harness.customerID)/invitations", token: harness.tokens[.customer], body: ["email": email, "role": role],
            expect: .created)
        let url = try #require(created["url"] as? String)
        return String(url[try #require(url.range(of: "/account/invitations/")).lowerBound...])
    }

    /// Accepts an invitation in `browser`, which is then signed in.
    static func join(_ browser: inout Browser, _ path: String, name: String, password: String) async throws {
        let page = try await browser.get(path).1
        let (status, _, location) = try await browser.post(path, ["csrf": Browser.csrf(page), "name": name, "password": password, "password_again": password])
        #expect(status == .seeOther && location == "/account")
    }

    static func code(_ secret: String, at date: Date) -> String {
        String(format: "%06d", TOTP(secret: secret).compute(date: date))
    }

    @Test("known vectors: bcrypt (OpenBSD's), TOTP (RFC 6238 appendix B), and a code accepted one step either side, no further")
    func vectors() {
        #expect(Bcrypt.verify("U*U", hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        #expect(!Bcrypt.verify("U*V", hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        let rfc = TOTP(secret: "12345678901234567890", length: 8)
        #expect(rfc.compute(date: Date(timeIntervalSince1970: 59)) == 94_287_082)
        #expect(rfc.compute(date: Date(timeIntervalSince1970: 1_111_111_109)) == 7_081_804)
        #expect(rfc.compute(date: Date(timeIntervalSince1970: 2_000_000_000)) == 69_279_037)

        let secret = AccountSecrets.newTOTPSecret()
        let date = Date(timeIntervalSince1970: 1_790_000_015)
        #expect(AccountSecrets.totpStep(for: Self.code(secret, at: date), secret: secret, at: date) == 59_666_667)
        #expect(AccountSecrets.totpStep(for: Self.code(secret, at: date.addingTimeInterval(-30)), secret: secret, at: date) == 59_666_666)
        #expect(AccountSecrets.totpStep(for: Self.code(secret, at: date.addingTimeInterval(-90)), secret: secret, at: date) == nil)
        #expect(AccountSecrets.totpStep(for: "12345", secret: secret, at: date) == nil)
        #expect(AccountSecrets.manualKey(secret: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").hasPrefix("IFAU CQKB"))
        #expect(AccountSecrets.normalizedRecoveryCode(" ABCDE fghij ") == "abcde-fghij")
        #expect(Set(AccountSecrets.newRecoveryCodes()).count == 10)
        #expect(AccountSecrets.passwordProblem("short", email: "a@b.example") != nil)
        #expect(AccountSecrets.passwordProblem(String(repeating: "é", count: 40), email: "a@b.example") != nil, "80 bytes: bcrypt would cut it")
        #expect(AccountSecrets.passwordProblem("correct horse battery", email: "a@b.example") == nil)
    }

    @Test("an invitation becomes a user with a password; sign-in, a second factor, codes good once, recovery codes", arguments: StoreKind.allCases)
    func invitationPasswordAndSecondFactor(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let path = try await Self.invite(harness, client, "Ann@Acme.example")
            // The e-mail waits in the outbox with the link sealed; the audit log has neither the link nor the token.
            let token = String(path.dropFirst("/account/invitations/".count))
            let entries = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            #expect(entries.contains { $0.action == "account.user.invite" && $0.detail["email"] == "ann@acme.example" && $0.detail["role"] == "owner" })
            #expect(!entries.map { "\($0.detail)" }.joined().contains(token))

            var ann = Browser(client: client)
            var page = try await ann.get(path).1
            #expect(page.contains("ann@acme.example") && page.contains("Join acme"))
            // Bad input: a short password, two different ones, no name; each says why and creates nobody.
            for (name, password, again, expected) in [
                ("Ann", "short", "short", "at least 10 characters"), ("Ann", "long enough pass", "other long pass", "not the same"),
                ("", "long enough pass", "long enough pass", "Give your name"),
            ] {
                let (status, body, _) = try await ann.post(path, ["csrf": Browser.csrf(page), "name": name, "password": password, "password_again": again])
                #expect(status == .unprocessableContent && body.contains(expected), "\(expected): \(status)")
                page = body  // the page answered with a form of its own, and a new CSRF cookie
            }
            #expect(try await ann.post(path, ["csrf": "forged", "name": "Ann", "password": "x", "password_again": "x"]).0 == .forbidden)
            try await Self.join(&ann, path, name: "Ann Admin", password: "correct horse battery")
            let overview = try await ann.get("/account").1
            #expect(overview.contains("Welcome, Ann Admin") && overview.contains(#"id="current-region""#))
            // The link worked once.
            var stranger = Browser(client: client)
            #expect(try await stranger.get(path).0 == .notFound)

            // Wrong password and unknown address get the same answer; the right password signs in.
            try await ann.signOut()
            let wrong = try await ann.signIn("ann@acme.example", "not the password")
            let unknown = try await ann.signIn("nobody@acme.example", "not the password")
            #expect(wrong.0 == .unauthorized && unknown.0 == .unauthorized && wrong.1.contains(AccountPage.wrongCredentials) && unknown.1.contains(AccountPage.wrongCredentials))
            #expect(try await ann.signIn("ANN@acme.example", "correct horse battery").0 == .seeOther)

            // Turning the second factor on: a wrong code is refused; the right one gives ten recovery codes, once.
            let security = try await ann.get("/account/security").1
            let pending = try #require(Browser.field(security, "pending"))
            let opened = try harness.coordinator.secrets.open(pending)
            let user = try #require(try await harness.coordinator.people.user(email: "ann@acme.example"))
            #expect(opened.hasPrefix(user.id + " "))
            let secret = String(opened.dropFirst(user.id.count + 1))
            let refused = try await ann.post(
                "/account/security/second-factor", ["csrf": Browser.csrf(security), "pending": pending, "code": "000000"])
            #expect(refused.0 == .unprocessableContent && refused.1.contains("not the one your app shows"))
            let now = harness.clock.now
            let codesPage = try await ann.post(
                "/account/security/second-factor", ["csrf": Browser.csrf(security), "pending": pending, "code": Self.code(secret, at: now)])
            #expect(codesPage.0 == .ok)
            let codes = codesPage.1.matches(of: /<code>([a-z2-7]{5}-[a-z2-7]{5})<\/code>/).map { String($0.1) }
            #expect(codes.count == 10)
            #expect(try await ann.get("/account/security").1.contains(#"data-state="on""#))

            // Signing in now asks for a code. The code just used is refused (good once), the next step's is taken.
            try await ann.signOut()
            #expect(try await ann.signIn("ann@acme.example", "correct horse battery").0 == .seeOther)
            var codeForm = try await ann.get("/account")
            #expect(codeForm.1.contains(#"id="code-form""#) && !codeForm.1.contains("current-region"))
            #expect(try await ann.get("/account/security").1.contains(#"id="code-form""#), "no page before the second factor")
            var answer = try await ann.post("/account/sign-in/code", ["csrf": Browser.csrf(codeForm.1), "code": Self.code(secret, at: now)])
            #expect(answer.0 == .unauthorized && answer.1.contains(AccountPage.wrongCredentials))
            let beforeCode = ann.cookies[AccountPage.cookie]
            harness.clock.advance(days: 30.0 / 86_400)
            answer = try await ann.post("/account/sign-in/code", ["csrf": Browser.csrf(codeForm.1), "code": Self.code(secret, at: harness.clock.now)])
            #expect(answer.0 == .seeOther && ann.cookies[AccountPage.cookie] != beforeCode, "a new session id after the second factor")
            #expect(try await ann.get("/account").1.contains("current-region"))

            // A recovery code works once.
            for expected in [HTTPResponse.Status.seeOther, .unauthorized] {
                try await ann.signOut()
                _ = try await ann.signIn("ann@acme.example", "correct horse battery")
                codeForm = try await ann.get("/account")
                answer = try await ann.post("/account/sign-in/code", ["csrf": Browser.csrf(codeForm.1), "code": codes[3].uppercased()])
                #expect(answer.0 == expected)
            }
            let audit = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            let methods = audit.filter { $0.action == "account.sign_in" }.compactMap { $0.detail["method"] }
            #expect(methods.contains("password") && methods.contains("password+totp") && methods.contains("password+recovery_code"))
            let everything = audit.map { "\($0.detail)" }.joined()
            #expect(!everything.contains("correct horse") && !everything.contains(secret) && !everything.contains(codes[3]))
        }
    }

    @Test("sessions live in the database: another coordinator on the same store knows them; owners invite and remove, members cannot",
        arguments: StoreKind.allCases)
    func sessionsAcrossReplicasAndRoles(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            var owner = Browser(client: client)
            try await Self.join(&owner, try await Self.invite(harness, client, "owner@acme.example"), name: "Olive", password: "owner password 1")

            // A second replica (or the same coordinator restarted) on the same database: the cookie still signs in.
            let replica = try await TestStores.coordinator(harness.coordinator.store, clock: harness.clock)
            let cookies = owner.cookies
            try await Application(router: try replica.buildRouter()).test(.router) { (other: any TestClientProtocol) async throws in
                var elsewhere = Browser(client: other, cookies: cookies)
                let page = try await elsewhere.get("/account").1
                #expect(page.contains("current-region"))
            }
            await replica.close()

            // The owner invites a member from the page; the link is in the notice and in the outbox.
            var people = try await owner.get("/account/people").1
            _ = try await owner.post("/account/people/invite", ["csrf": Browser.csrf(people), "email": "mel@acme.example", "role": "member"])
            people = try await owner.get("/account/people").1
            let link = try #require(people.firstMatch(of: /(\/account\/invitations\/[A-Za-z0-9_-]+)/)).1
            #expect(people.contains("Invitation e-mailed to mel@acme.example"))
            var member = Browser(client: client)
            try await Self.join(&member, String(link), name: "Mel", password: "member password 1")

            // A member sees the people but cannot invite.
            let memberPage = try await member.get("/account/people").1
            #expect(memberPage.contains("owner@acme.example") && !memberPage.contains(#"id="invite-form""#))
            _ = try await member.post("/account/people/invite", ["csrf": Browser.csrf(memberPage), "email": "eve@acme.example", "role": "owner"])
            #expect(try await member.get("/account/people").1.contains("Only the account"))
            #expect(try await harness.coordinator.people.openInvitations(harness.customerID, at: harness.clock.now).allSatisfy { $0.email != "eve@acme.example" })

            // The API lists both; the last owner cannot be removed; removing the member ends their session.
            let list = try await client.json(.get, "/v1/customers/\(harness.customerID)/users", token: harness.tokens[.customer])
            let users = try #require(list["items"] as? [[String: Any]])
            #expect(Set(users.compactMap { $0["email"] as? String }) == ["owner@acme.example", "mel@acme.example"])
            let ownerID = try #require(users.first { $0["email"] as? String == "owner@acme.example" }?["id"] as? String)
            let memberID = try #require(users.first { $0["email"] as? String == "mel@acme.example" }?["id"] as? String)
            try await client.json(.delete, "/v1/customers/\(harness.customerID)/users/\(ownerID)", token: harness.tokens[.customer], expect: .conflict)
            try await client.json(.delete, "/v1/customers/\(harness.otherCustomerID)/users/\(memberID)", token: harness.tokens[.admin], expect: .notFound)
            people = try await owner.get("/account/people").1
            _ = try await owner.post("/account/people/\(memberID)/remove", ["csrf": Browser.csrf(people)])
            #expect(try await member.get("/account").1.contains(#"id="sign-in""#), "the removed member's session ended")

            // Bad input through the API: a bad address, an address that is someone's already.
            try await client.json(.post, "/v1/customers/\(harness.customerID)/invitations", token: harness.tokens[.customer], body: ["email": "not an address"], expect: .unprocessableContent)
            try await client.json(
                .post, "/v1/customers/\(harness.customerID)/invitations", token: harness.tokens[.customer], body: ["email": "owner@acme.example"], expect: .conflict)

            // An invitation is good for 7 days.
            let late = try await Self.invite(harness, client, "late@acme.example")
            harness.clock.advance(days: 8)
            var latecomer = Browser(client: client)
            #expect(try await latecomer.get(late).0 == .notFound)
        }
    }

    @Test("settings: the webhook with credentials and a format, a test delivery that cannot connect, redactions, API keys for owners only",
        arguments: StoreKind.allCases)
    func settings(kind: StoreKind) async throws {
        try await APITestHarness.run(kind, egress: EgressPolicy(allowHTTP: true, allowedNetworks: [IPNetwork("127.0.0.0/8")!])) { harness, client in
            var owner = Browser(client: client)
            try await Self.join(&owner, try await Self.invite(harness, client, "owner@acme.example"), name: "Olive", password: "owner password 1")
            var settings = try await owner.get("/account/settings").1
            // A URL with credentials and a format: kept sealed, shown without them.
            _ = try await owner.post(
                "/account/settings/webhook",
                ["csrf": Browser.csrf(settings), "url": "http://hook:s3cret@127.0.0.1:9/in", "mode": "sync", "format": "postmark"])
            settings = try await owner.get("/account/settings").1
            #expect(settings.contains("Webhook saved") && settings.contains(#"value="http://127.0.0.1:9/in""#) && !settings.contains("s3cret"))
            var stored = try #require(try await harness.coordinator.customers.find(harness.customerID))
            #expect(stored.postFormat == .postmark && stored.webhookMode == .sync)
            #expect(try harness.coordinator.secrets.open(try #require(stored.webhookCredentialsSealed)) == "hook:s3cret")
            // Bad input changes nothing and says why.
            _ = try await owner.post("/account/settings/webhook", ["csrf": Browser.csrf(settings), "url": "ftp://x", "mode": "sync", "format": "postmark"])
            settings = try await owner.get("/account/settings").1
            #expect(settings.contains("webhook.url must be an absolute http(s) URL"))
            #expect(try await harness.coordinator.customers.find(harness.customerID)?.webhookURL == "http://127.0.0.1:9/in")

            // A test delivery to a port where nothing listens: the page says so; the API answers the same.
            _ = try await owner.post("/account/settings/test", ["csrf": Browser.csrf(settings)])
            settings = try await owner.get("/account/settings").1
            #expect(settings.contains("your endpoint did not answer") && settings.contains("connection refused"))
            let tested = try await client.json(.post, "/v1/customers/\(harness.customerID)/webhook/test", token: harness.tokens[.customer])
            #expect(tested["outcome"] as? String == "failed" && tested["format"] as? String == "postmark" && tested["status_code"] == nil, "\(tested)")

            // Redactions: ticked fields are the account's from now on.
            _ = try await owner.post(
                "/account/settings/redactions", ["csrf": Browser.csrf(settings), "redact_subject": "on", "redact_sender_ip": "on", "redact_nothing": "on"])
            stored = try #require(try await harness.coordinator.customers.find(harness.customerID))
            #expect(stored.metadataRedactions == [.senderIP, .subject])

            // API keys: shown once, work on the API, revoked from the page; a member sees none of it.
            settings = try await owner.get("/account/settings").1
            _ = try await owner.post("/account/settings/tokens", ["csrf": Browser.csrf(settings), "name": "billing sync", "days": "30"])
            settings = try await owner.get("/account/settings").1
            let key = try #require(settings.firstMatch(of: /shown this once: (mrd_[A-Za-z0-9_-]+)/)).1
            try await client.json(.get, "/v1/customers/\(harness.customerID)", token: String(key))
            let tokenID = try #require(settings.firstMatch(of: /data-token="(tok_[A-Za-z0-9]+)"><td>billing sync</)).1
            _ = try await owner.post("/account/settings/tokens/\(harness.customerID)/revoke", ["csrf": Browser.csrf(settings)])
            #expect(try await owner.get("/account/settings").1.contains("no such API key"))
            _ = try await owner.post("/account/settings/tokens/\(tokenID)/revoke", ["csrf": Browser.csrf(settings)])
            try await client.json(.get, "/v1/customers/\(harness.customerID)", token: String(key), expect: .unauthorized)

            var people = try await owner.get("/account/people").1
            _ = try await owner.post("/account/people/invite", ["csrf": Browser.csrf(people), "email": "mel@acme.example", "role": "member"])
            people = try await owner.get("/account/people").1
            var member = Browser(client: client)
            try await Self.join(&member, String(try #require(people.firstMatch(of: /(\/account\/invitations\/[A-Za-z0-9_-]+)/)).1), name: "Mel", password: "member password 1")
            let memberSettings = try await member.get("/account/settings").1
            #expect(!memberSettings.contains(#"id="token-form""#))
            _ = try await member.post("/account/settings/tokens", ["csrf": Browser.csrf(memberSettings), "name": "sneaky"])
            #expect(try await harness.coordinator.tokens.list(customerID: harness.customerID).allSatisfy { $0.name != "sneaky" })
        }
    }

    @Test("privacy: objections that say what they remove, support grants, the DPA annex, the account's export without secrets")
    func privacy() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            let admin = harness.tokens[.admin]!
            let created = try await client.json(.post, "/v1/subprocessors", token: admin, body: RegistryAPITests.analysisService(), expect: .created)
            let entryID = try #require(created["id"] as? String)
            var owner = Browser(client: client)
            try await Self.join(&owner, try await Self.invite(harness, client, "owner@acme.example"), name: "Olive", password: "owner password 1")
            var privacy = try await owner.get("/account/privacy").1
            #expect(privacy.contains("Analysis Co") && privacy.contains("Objecting stops analysis and content detection of received messages"))
            #expect(privacy.contains("No DPA is on record"))

            // Object, then withdraw: each recorded, audited as the person, and the publisher told.
            _ = try await owner.post("/account/privacy/objections/\(entryID)", ["csrf": Browser.csrf(privacy), "reason": "not in our DPA"])
            privacy = try await owner.get("/account/privacy").1
            #expect(privacy.contains("You object to Analysis Co") && privacy.contains(#"data-objected="yes""#))
            let objections = try await harness.coordinator.registry.objections.list(customerID: harness.customerID)
            #expect(objections.count == 1 && objections[0].reason == "not in our DPA" && objections[0].createdBy.hasPrefix("usr_"))
            _ = try await owner.post("/account/privacy/objections/\(entryID)", ["csrf": Browser.csrf(privacy)])
            #expect(try await harness.coordinator.registry.objections.list(customerID: harness.customerID).first?.withdrawnAt != nil)
            _ = try await owner.post("/account/privacy/objections/spr_none", ["csrf": Browser.csrf(privacy)])
            #expect(try await owner.get("/account/privacy").1.contains("No such sub-processor"))

            // Support's access: a grant needs a reason; one with it lets support read, and ending it stops that.
            privacy = try await owner.get("/account/privacy").1
            _ = try await owner.post("/account/privacy/grants", ["csrf": Browser.csrf(privacy), "reason": " ", "hours": "2"])
            #expect(try await owner.get("/account/privacy").1.contains("Say why support may look"))
            try await client.json(.get, "/v1/customers/\(harness.otherCustomerID)", token: harness.tokens[.support], expect: .forbidden)
            _ = try await owner.post("/account/privacy/grants", ["csrf": Browser.csrf(privacy), "reason": "ticket 42", "hours": "2"])
            privacy = try await owner.get("/account/privacy").1
            let grant = try #require(try await harness.coordinator.grants.list(customerID: harness.customerID).first { $0.reason == "ticket 42" })
            _ = try await owner.post("/account/privacy/grants/\(grant.id)/revoke", ["csrf": Browser.csrf(privacy)])
            #expect(try await harness.coordinator.grants.list(customerID: harness.customerID).first { $0.id == grant.id }?.revokedAt != nil)

            // The DPA annex once one is recorded.
            #expect(try await owner.get("/account/privacy/dpa-annex").0 == .notFound)
            try await client.json(.post, "/v1/customers/\(harness.customerID)/dpa", token: admin, body: RegistryAPITests.dpa, expect: .created)
            let annex = try await owner.get("/account/privacy/dpa-annex")
            #expect(annex.0 == .ok && annex.1.contains("Analysis Co"))

            // The export: the account, its people, keys and audit trail; no secret, hash or sealed value.
            let export = try await owner.get("/account/privacy/export")
            #expect(export.0 == .ok)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(export.1.utf8)) as? [String: Any])
            #expect((json["account"] as? [String: Any])?["id"] as? String == harness.customerID)
            #expect((json["people"] as? [[String: Any]])?.first?["email"] as? String == "owner@acme.example")
            let actions = ((json["audit"] as? [[String: Any]]) ?? []).compactMap { $0["action"] as? String }
            #expect(actions.contains("objection.create") && actions.contains("objection.withdraw") && actions.contains("access_grant.revoke"))
            for secret in ["whsec_", "$2b$", "password_hash", "secret_sealed", "owner password"] { #expect(!export.1.contains(secret), "\(secret)") }
        }
    }

    @Test("guessing is limited: five wrong passwords for one address and the page says to wait")
    func throttled() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            var ann = Browser(client: client)
            try await Self.join(&ann, try await Self.invite(harness, client, "ann@acme.example"), name: "Ann", password: "correct horse battery")
            try await ann.signOut()
            for _ in 0..<5 { #expect(try await ann.signIn("ann@acme.example", "wrong password!").0 == .unauthorized) }
            let limited = try await ann.signIn("ann@acme.example", "correct horse battery")
            #expect(limited.0 == .tooManyRequests && limited.1.contains("Too many sign-in attempts"))
        }
    }
}
