import MeridianCore
import Testing

@Suite("Delivery status notifications carry a capped header back, never the body")
struct DeliveryStatusNotificationTests {
    @Test("the header ends at the first empty line, with CRLF or bare LF line ends")
    func headerOnly() {
        let crlf = Array("Subject: Hi\r\nFrom: a@b.example\r\n\r\nBUY NOW\r\n".utf8)
        #expect(DeliveryStatusNotification.header(of: crlf) == Array("Subject: Hi\r\nFrom: a@b.example\r\n".utf8))
        // Before, a message with bare LF line ends had no "empty line" and came back whole, body and all.
        let bareLF = Array("Subject: Hi\nFrom: a@b.example\n\nBUY NOW\n".utf8)
        #expect(DeliveryStatusNotification.header(of: bareLF) == Array("Subject: Hi\nFrom: a@b.example\n".utf8))
    }

    @Test("a header longer than the limit is cut at the end of a line within it")
    func capped() {
        let line = "X-Filler: " + String(repeating: "a", count: 90) + "\r\n"
        let message = Array((String(repeating: line, count: 1000) + "\r\nbody\r\n").utf8)
        let header = DeliveryStatusNotification.header(of: message)
        #expect(header.count <= DeliveryStatusNotification.headerLimit && header.count > DeliveryStatusNotification.headerLimit - 200)
        #expect(header.suffix(2).elementsEqual([0x0D, 0x0A]) && header.count % line.utf8.count == 0)
    }
}
