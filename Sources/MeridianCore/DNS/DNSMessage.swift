/// The DNS wire format (RFC 1035) as far as Meridian asks: a query for one name and type, and the A, AAAA,
/// CNAME, PTR, MX and TXT answers of a response, with name compression. The coordinator checks customers'
/// MX and TXT records with it; a node's sender authentication (SPF, DKIM, DMARC) asks for all six.
public enum DNSMessage {
    public enum RecordType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
        case a = 1
        case cname = 5
        case ptr = 12
        case mx = 15
        case txt = 16
        case aaaa = 28

        public var description: String {
            switch self {
            case .a: "A"
            case .cname: "CNAME"
            case .ptr: "PTR"
            case .mx: "MX"
            case .txt: "TXT"
            case .aaaa: "AAAA"
            }
        }
    }

    /// How a response ended (RCODE): `nameError` is NXDOMAIN, which is an answer (no records), not a failure.
    public enum ResponseCode: Sendable, Equatable {
        case noError
        case nameError
        case other(UInt8)
    }

    /// An MX answer: its preference and the exchange host, lower case without the final dot.
    public struct MX: Sendable, Equatable {
        public var preference: UInt16
        public var host: String

        public init(preference: UInt16, host: String) {
            self.preference = preference
            self.host = host
        }
    }

    /// What one answer record holds, for the types Meridian asks about.
    public enum RecordData: Sendable, Equatable {
        case address(IPAddress)
        /// The target of a CNAME or PTR record.
        case name(String)
        case mx(MX)
        /// A TXT record's character-strings, joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
        case txt(String)
    }

    public struct Record: Sendable, Equatable {
        public var name: String
        public var ttl: UInt32
        public var data: RecordData

        public init(name: String, ttl: UInt32, data: RecordData) {
            self.name = name
            self.ttl = ttl
            self.data = data
        }
    }

    public struct Response: Sendable, Equatable {
        public var id: UInt16
        public var code: ResponseCode
        public var truncated: Bool
        /// The question's name and type, so that a client can match the answer to what it asked.
        public var question: (name: String, type: UInt16)?
        public var records: [Record]

        public static func == (lhs: Response, rhs: Response) -> Bool {
            lhs.id == rhs.id && lhs.code == rhs.code && lhs.truncated == rhs.truncated && lhs.records == rhs.records
                && lhs.question?.name == rhs.question?.name && lhs.question?.type == rhs.question?.type
        }
    }

    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// A standard query with recursion desired. `name` must be a valid domain name (checked by the caller).
    public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes += [0, UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0, 1]
        return bytes
    }

    /// Whether `name` can be asked for: 1 to 127 labels of 1 to 63 visible ASCII characters, at most 253 in
    /// all. Wider than a host name (``DomainName``): `_dmarc`, `_domainkey` and SPF macro expansions use `_`.
    public static func isQueryable(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...253).contains(bytes.count) else { return false }
        var length = 0
        for byte in bytes {
            if byte == 0x2E {
                guard length > 0 else { return false }
                length = 0
            } else {
                guard byte > 0x20, byte < 0x7F else { return false }
                length += 1
                guard length <= 63 else { return false }
            }
        }
        return length > 0
    }

    public static func parse(_ bytes: [UInt8]) throws(FormatError) -> Response {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw FormatError("not a response") }
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        let rcode = UInt8(flags & 0x000f)
        var response = Response(
            id: id, code: rcode == 0 ? .noError : rcode == 3 ? .nameError : .other(rcode), truncated: flags & 0x0200 != 0, question: nil,
            records: [])
        for index in 0..<questions {
            let name = try reader.name()
            let type = try reader.u16()
            try reader.skip(2)
            if index == 0 { response.question = (name, type) }
        }
        for _ in 0..<answers {
            let name = try reader.name()
            let type = try reader.u16()
            let klass = try reader.u16()
            let ttl = UInt32(try reader.u16()) << 16 | UInt32(try reader.u16())
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw FormatError("a record runs past the end of the message") }
            if klass == 1, let data = try reader.recordData(type: type, length: length, end: end) {
                response.records.append(Record(name: name, ttl: ttl, data: data))
            }
            reader.offset = end
        }
        return response
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func recordData(type: UInt16, length: Int, end: Int) throws(FormatError) -> RecordData? {
            switch RecordType(rawValue: type) {
            case .a:
                guard length == 4 else { throw FormatError("an A record is not 4 bytes long") }
                return .address(.v4(try take(4)))
            case .aaaa:
                guard length == 16 else { throw FormatError("an AAAA record is not 16 bytes long") }
                return .address(.v6(try take(16)))
            case .cname, .ptr:
                return .name(try name())
            case .mx:
                let preference = try u16()
                return .mx(MX(preference: preference, host: try name()))
            case .txt:
                var text: [UInt8] = []
                while offset < end {
                    let count = Int(try u8())
                    guard offset + count <= end else { throw FormatError("a TXT string runs past its record") }
                    text += try take(count)
                }
                return .txt(String(decoding: text, as: UTF8.self))
            case nil:
                return nil
            }
        }

        mutating func u8() throws(FormatError) -> UInt8 {
            guard offset < bytes.count else { throw FormatError("the message is cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(FormatError) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func skip(_ count: Int) throws(FormatError) {
            guard offset + count <= bytes.count else { throw FormatError("the message is cut short") }
            offset += count
        }

        mutating func take(_ count: Int) throws(FormatError) -> [UInt8] {
            guard offset + count <= bytes.count else { throw FormatError("the message is cut short") }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        /// A domain name, following compression pointers (at most 32, so a loop cannot hang the parser).
        mutating func name() throws(FormatError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { throw FormatError("a name runs past the end of the message") }
                let length = Int(bytes[position])
                if length & 0xc0 == 0xc0 {
                    guard position + 1 < bytes.count else { throw FormatError("a name pointer is cut short") }
                    jumps += 1
                    guard jumps <= 32 else { throw FormatError("name pointers loop") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = (length & 0x3f) << 8 | Int(bytes[position + 1])
                    continue
                }
                guard length & 0xc0 == 0 else { throw FormatError("unknown label type") }
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                guard position + 1 + length <= bytes.count else { throw FormatError("a label runs past the end of the message") }
                labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self).lowercased())
                position += 1 + length
            }
            return labels.joined(separator: ".")
        }
    }
}
