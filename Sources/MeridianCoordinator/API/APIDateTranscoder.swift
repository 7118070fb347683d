import Foundation
import MeridianCore
import OpenAPIRuntime

/// The API's times, RFC 3339 in UTC to the second as OpenAPIRuntime's ISO 8601 transcoder writes them, but written
/// by ``ISOTime`` without a date formatter: a customer's record carries several times, and the formatter was a
/// fifth of that response's encoding. Reading accepts what the default transcoder accepts.
struct APIDateTranscoder: DateTranscoder {
    let reading = ISO8601DateTranscoder()

    func encode(_ date: Date) throws -> String { ISOTime.string(date) }
    func decode(_ text: String) throws -> Date { try reading.decode(text) }
}
