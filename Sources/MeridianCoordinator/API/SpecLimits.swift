import Foundation
import HTTPTypes
import MeridianServer
import OpenAPIRuntime

/// The limits docs/openapi.yaml sets on strings (length, pattern), enforced at run time for every operation's
/// JSON body and parameters, before the handler runs: the generated code decodes types but checks none of them.
/// Every string in a body is also refused when it holds a control character (C0, DEL, C1), except a line break
/// or a tab in free-text fields (`notes`, `reason`). The table is generated from the spec (`scripts/spec-limits`,
/// kept current by scripts/test).
enum SpecLimits {
    struct Field: Sendable {
        var path: String
        var minLength: Int? = nil
        var maxLength: Int? = nil
        var pattern: String? = nil
        var multiline = false
    }

    /// The first problem with `value` for `field`, named by `name` (the field's place in the request).
    static func problem(_ value: String, _ field: Field?, name: String) -> Problem? {
        if let bad = value.unicodeScalars.first(where: { isControl($0) && !(field?.multiline == true && ($0 == "\n" || $0 == "\t" || $0 == "\r")) }) {
            return Problem.invalid(name, "\(name) must not contain control characters (found U+\(String(format: "%04X", bad.value)))")
        }
        guard let field else { return nil }
        let length = value.unicodeScalars.count
        if let maximum = field.maxLength, length > maximum {
            return Problem.invalid(name, "\(name) is \(length) characters long; at most \(maximum) are allowed")
        }
        if let minimum = field.minLength, length < minimum {
            return Problem.invalid(name, "\(name) must be at least \(minimum) characters long")
        }
        if let pattern = field.pattern, value.range(of: pattern, options: .regularExpression) == nil {
            return Problem.invalid(name, "\(name) \"\(value.prefix(100))\" does not match \(pattern)")
        }
        return nil
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// The first problem in a decoded JSON body: every string checked for control characters, and the fields
    /// of `fields` for their limits.
    static func problem(inBody json: Any, fields: [Field]) -> Problem? {
        let byPath = Dictionary(fields.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        return walk(json, limitsPath: "", name: "", byPath)
    }

    private static func walk(_ value: Any, limitsPath: String, name: String, _ byPath: [String: Field]) -> Problem? {
        switch value {
        case let text as String:
            return problem(text, byPath[limitsPath], name: name.isEmpty ? "body" : name)
        case let object as [String: Any]:
            for key in object.keys.sorted() {
                if key.unicodeScalars.contains(where: isControl) { return Problem.invalid("body", "a field name holds a control character") }
                let path = limitsPath.isEmpty ? key : "\(limitsPath).\(key)"
                if let found = walk(object[key]!, limitsPath: path, name: name.isEmpty ? key : "\(name).\(key)", byPath) { return found }
            }
            return nil
        case let array as [Any]:
            for (index, element) in array.enumerated() {
                if let found = walk(element, limitsPath: limitsPath + "[]", name: "\(name)[\(index)]", byPath) { return found }
            }
            return nil
        default:
            return nil
        }
    }
}

/// Enforces ``SpecLimits`` on the admin API: path and query parameters, then the JSON body (read whole, at most
/// 1 MB, and handed on as read). A request within the limits goes on unchanged.
struct InputLimitsMiddleware: ServerMiddleware {
    static let bodyLimit = 1 << 20

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        for field in SpecLimits.parameters[operationID] ?? [] {
            let parts = field.path.split(separator: ".", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = String(parts[1])
            let value: String?
            switch parts[0] {
            case "path":
                // Most values have nothing escaped; Foundation's decoding costs a bridge to NSString even then.
                value = metadata.pathParameters[name].map(String.init).flatMap { $0.contains("%") ? $0.removingPercentEncoding : $0 }
            case "query": value = Self.query(request.path ?? "", name)
            default: value = nil
            }
            if let value, let problem = SpecLimits.problem(value, field, name: name) { throw problem }
        }
        guard let body, request.headerFields[.contentType]?.lowercased().hasPrefix("application/json") == true else {
            return try await next(request, body, metadata)
        }
        let bytes: ArraySlice<UInt8>
        do {
            bytes = try await ArraySlice(collecting: body, upTo: Self.bodyLimit)
        } catch {
            throw Problem(.contentTooLarge, "the request body is over \(Self.bodyLimit) bytes")
        }
        if let json = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
            let problem = SpecLimits.problem(inBody: json, fields: SpecLimits.bodies[operationID] ?? [])
        {
            throw problem
        }
        return try await next(request, HTTPBody(bytes), metadata)
    }

    static func query(_ path: String, _ name: String) -> String? {
        URLComponents(string: path)?.queryItems?.first { $0.name == name }?.value
    }
}
