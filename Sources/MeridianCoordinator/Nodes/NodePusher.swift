import AsyncHTTPClient
import Foundation
import MeridianCore
import MeridianServer
import NIOCore
import NIOHTTP1

/// The coordinator's calls to a node's control API over mutual TLS (``NodeProtocol``): a signed bundle
/// (`PUT /v1/bundle`) answered with the node's ``BundleReport``, and a signed directive (`POST /v1/directives`)
/// answered with its ``SignedReceipt``.
public struct NodePusher: Sendable {
    public enum Answer: Sendable, Equatable {
        /// The node's ACK or NACK, not yet checked (``NodeAuthority/check(_:by:now:)``).
        case answered(BundleReport)
        case unreachable(String)
    }

    /// The coordinator's certificate, and the node CA a node's must come from.
    let credentials: LinkCredentials
    let timeout: TimeAmount
    /// The process-wide shared client: its pool keeps a connection to each node open between calls, keyed by the
    /// TLS configuration, so a renewed certificate opens new ones.
    private var http: HTTPClient { HTTPClient.shared }

    public init(credentials: LinkCredentials, timeout: TimeAmount = .seconds(5)) {
        self.credentials = credentials
        self.timeout = timeout
    }

    /// A request to a node, made with the coordinator's current certificate.
    func request(_ url: String, method: HTTPMethod = .GET) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.tlsConfiguration = credentials.client
        return request
    }

    public func push(_ signed: Data, to controlURL: String) async -> Answer {
        var request = request(controlURL + NodeProtocol.bundlePath, method: .PUT)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: signed))
        do {
            // A snapshot of a million customers takes a node seconds to check and open: a second more per 8 MB.
            let response = try await http.execute(request, timeout: timeout + .seconds(Int64(signed.count >> 23)))
            let body = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            guard let report = try? JSONDecoder().decode(BundleReport.self, from: body) else {
                return .unreachable("answered \(response.status.code) without a report: \(ProblemDetails.detail(of: body))")
            }
            return .answered(report)
        } catch {
            return .unreachable("\(error)")
        }
    }

    /// Sends a signed GDPR/CCPA directive; the node's signed receipt (not yet verified), or why there is none
    /// (``CoordinatorError`` `directiveUndelivered`).
    public func send(_ directive: SignedDirective, to controlURL: String) async -> Result<SignedReceipt, CoordinatorError> {
        var request = request(controlURL + NodeProtocol.directivesPath, method: .POST)
        request.headers.add(name: "Content-Type", value: "application/json")
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(directive)))
            // An access answer carries the subject's records: more time and room than a bundle's ACK. Not much
            // more: the client retries a refused connection until this deadline, and a pass waits for it.
            let response = try await http.execute(request, timeout: .seconds(20))
            let body = Data(buffer: try await response.body.collect(upTo: NodeProtocol.maximumReceiptSize))
            guard response.status == .ok else {
                return .failure(CoordinatorError(.directiveUndelivered, "the node answered \(response.status.code): \(ProblemDetails.detail(of: body))"))
            }
            do {
                return .success(try JSONDecoder().decode(SignedReceipt.self, from: body))
            } catch {
                return .failure(CoordinatorError(.directiveUndelivered, "the node's receipt does not decode: \(error)"))
            }
        } catch {
            return .failure(CoordinatorError(.directiveUndelivered, "unreachable: \(error)"))
        }
    }
}
