import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore

/// The coordinator's calls to a node's control API with the node token (``NodeProtocol``): a signed bundle
/// (`PUT /v1/bundle`) answered with the node's ``BundleReport``, and a signed directive (`POST /v1/directives`)
/// answered with its ``DirectiveReceipt``.
public struct NodePusher: Sendable {
    public enum Answer: Sendable, Equatable {
        case ack(version: Int)
        case nack(version: Int?, error: String)
        case unreachable(String)
    }

    let token: String?
    let timeout: TimeAmount
    private var http: HTTPClient { HTTPClient.shared }

    public init(token: String?, timeout: TimeAmount = .seconds(5)) {
        self.token = token
        self.timeout = timeout
    }

    public func push(_ signed: Data, to controlURL: String) async -> Answer {
        var request = HTTPClientRequest(url: controlURL + NodeProtocol.bundlePath)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: signed))
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            guard let report = try? JSONDecoder().decode(BundleReport.self, from: body) else {
                return .unreachable("answered \(response.status.code) without a report: \(Self.detail(of: body))")
            }
            return report.status == .ack ? .ack(version: report.version) : .nack(version: report.version, error: report.error ?? "no reason given")
        } catch {
            return .unreachable("\(error)")
        }
    }

    /// Sends a signed GDPR/CCPA directive; the node's receipt, or why there is none (``CoordinatorError``
    /// `directiveUndelivered`).
    public func send(_ directive: SignedDirective, to controlURL: String) async -> Result<DirectiveReceipt, CoordinatorError> {
        var request = HTTPClientRequest(url: controlURL + NodeProtocol.directivesPath)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(directive)))
            // An access answer carries the subject's records: more time and room than a bundle's ACK. Not much
            // more: the client retries a refused connection until this deadline, and a pass waits for it.
            let response = try await http.execute(request, timeout: .seconds(20))
            let body = Data(buffer: try await response.body.collect(upTo: NodeProtocol.maximumReceiptSize))
            guard response.status == .ok else {
                return .failure(CoordinatorError(.directiveUndelivered, "the node answered \(response.status.code): \(Self.detail(of: body))"))
            }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            do {
                return .success(try decoder.decode(DirectiveReceipt.self, from: body))
            } catch {
                return .failure(CoordinatorError(.directiveUndelivered, "the node's receipt does not decode: \(error)"))
            }
        } catch {
            return .failure(CoordinatorError(.directiveUndelivered, "unreachable: \(error)"))
        }
    }

    /// The `detail` of a problem answer, or the start of whatever else came.
    static func detail(of body: Data) -> String {
        (try? JSONDecoder().decode(ProblemDetails.self, from: body))?.detail ?? String(decoding: body.prefix(300), as: UTF8.self)
    }
}
