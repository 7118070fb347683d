import Testing

@testable import MeridianCore

@Suite("Domain names, e-mail addresses and webhook URLs")
struct ValidationTests {
    @Test(arguments: ["example.com", "Mail.Example.COM", "xn--bcher-kva.ch", "a-b.c-d.example", "example.com."])
    func validDomains(_ text: String) {
        #expect(DomainName(text) != nil)
    }

    @Test(arguments: ["", "localhost", "exa mple.com", "-bad.example", "bad-.example", "a..b", "1.2.3.4", "bücher.ch",
        "under_score.example", String(repeating: "a", count: 64) + ".example"])
    func invalidDomains(_ text: String) {
        #expect(DomainName(text) == nil)
    }

    @Test func internationalisedNamesGetAHint() {
        #expect(DomainName.explainInvalid("bücher.ch").contains("xn--"))
    }

    @Test(arguments: ["ops@example.com", "first.last+tag@mail.example.org", "o'brien@example.ie"])
    func validEmails(_ text: String) {
        #expect(EmailAddress(text) != nil)
    }

    @Test(arguments: ["bad", "@example.com", "a@", "a@b", ".a@example.com", "a..b@example.com", "a b@example.com",
        "\"quoted\"@example.com", "a@[127.0.0.1]"])
    func invalidEmails(_ text: String) {
        #expect(EmailAddress(text) == nil)
    }

    @Test func webhookURLs() {
        #expect(WebhookEndpoint("https://hooks.example.com/in?x=1") != nil)
        #expect(WebhookEndpoint("http://10.0.0.5:8080/mail") != nil)
        #expect(WebhookEndpoint("ftp://example.com") == nil)
        #expect(WebhookEndpoint("https://user:pw@example.com") == nil)
        #expect(WebhookEndpoint("/relative") == nil)
        #expect(WebhookEndpoint("https://example.com/#frag") == nil)
    }

    @Test func resourceIDsSortByCreationAndAreWellFormed() {
        let early = ResourceID.make(prefix: "cus", at: .init(timeIntervalSince1970: 1_700_000_000))
        let late = ResourceID.make(prefix: "cus", at: .init(timeIntervalSince1970: 1_800_000_000))
        #expect(early < late)
        #expect(ResourceID.isWellFormed(early, prefix: "cus"))
        #expect(!ResourceID.isWellFormed(early, prefix: "tok"))
    }

    @Test func bearerTokensAreRandomAndStoredHashed() {
        let one = BearerToken.generate()
        let two = BearerToken.generate()
        #expect(one.secret != two.secret)
        #expect(BearerToken.isWellFormed(one.secret))
        #expect(one.hash.count == 64 && !one.hash.contains(one.secret))
        #expect(!BearerToken.isWellFormed("mrd_short"))
    }
}
