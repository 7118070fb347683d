@testable import MeridianCore
import Testing

@Suite("reply_plain: the new text of a reply")
struct ReplyExtractorTests {
    @Test(arguments: [
        ("Sounds good.\n\nOn Tue, 1 Dec 2026, Bob <b@x> wrote:\n> old\n", "Sounds good."),
        ("Oui.\n\nLe mar. 1 déc. 2026 à 10:00, Bob <b@x> a écrit :\n> vieux\n", "Oui."),
        ("Ja.\n\nAm 01.12.2026 um 10:00 schrieb Bob <b@x>:\n> alt\n", "Ja."),
        ("Done.\n\n-----Original Message-----\nFrom: Bob\nSent: today\n", "Done."),
        ("Done.\n________________________________\nFrom: Bob <b@x>\nSent: today\n", "Done."),
        ("Top\n\n*From:* Bob\n*Sent:* Monday\n*To:* Ann\n\nold", "Top"),
        ("> question one\nanswer one\n> question two\nanswer two\n", "answer one\nanswer two"),
        ("Thanks!\n\nSent from my iPhone\n", "Thanks!"),
        ("Hello\n-- \nAnn\nCEO\n", "Hello"),
    ])
    func findsTheNewText(_ plain: String, _ expected: String) {
        #expect(ReplyExtractor.newText(plain) == expected)
    }

    @Test func aMessageThatIsNotAReplyHasNoReplyPlain() {
        #expect(ReplyExtractor.newText("Hello,\n\nOn Monday we meet at ten.\nFrom: the office\n") == nil)
    }
}
