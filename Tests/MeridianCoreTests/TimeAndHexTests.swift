import Crypto
import Foundation
import Testing

@testable import MeridianCore

@Suite("Times and hex as the records write them")
struct TimeAndHexTests {
    /// The arithmetic ``ISOTime/string(_:)`` writes what Foundation's ISO 8601 format style writes, which it replaced.
    @Test func isoTimeMatchesFoundation() {
        let style = Date.ISO8601FormatStyle().year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted)
        var generator = SystemRandomNumberGenerator()
        let edges: [Int64] = [
            0, -1, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, -2_203_891_200 /* 1900-03-01 */, 4_107_456_000 /* 2100-02-28 */,
            4_107_542_400, 253_402_300_799 /* 9999-12-31T23:59:59 */, -12_212_553_600 /* 1583-01-01, Gregorian in both (Foundation is Julian before October 1582) */,
        ]
        let random = (0..<5_000).map { _ in Int64.random(in: -2_208_988_800...7_258_118_400, using: &generator) }
        for seconds in edges + random {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(ISOTime.string(date) == date.formatted(style), "\(seconds)")
            #expect(ISOTime.date(ISOTime.string(date)) == date, "\(seconds)")
        }
        // Fractions of a second are dropped, not rounded, before and after the epoch.
        #expect(ISOTime.string(Date(timeIntervalSince1970: 1.999)) == "1970-01-01T00:00:01Z")
        #expect(ISOTime.string(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59Z")
    }

    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00Z"),
        (951_782_400.0, "2000-02-29T00:00:00Z"),
        (1_796_438_645.75, "2026-12-05T02:44:05Z"),
        (4_107_542_399.0, "2100-02-28T23:59:59Z"),
        (-1.0, "1969-12-31T23:59:59Z"),
        (253_402_300_799.0, "9999-12-31T23:59:59Z"),
    ])
    func utcTimesAreRFC3339WithoutTheFraction(seconds: Double, expected: String) {
        #expect(ISOTime.string(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func hexIsLowerCaseTwoDigitsPerByte() {
        #expect([UInt8]().hexString == "")
        #expect([0x00, 0x0f, 0xa0, 0xff].hexString == "000fa0ff")
        let digest = SHA256.hash(data: Data("abc".utf8))
        #expect(digest.hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
