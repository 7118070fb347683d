import AsyncHTTPClient
import Foundation
import Logging
import MeridianCore
import MeridianServer
import NIOCore

/// The `content_analysis` processing step: sends a message's subject and text to the analysis service of a
/// sub-processor and returns its verdict, which the webhook payload carries as `meridian.analysis`.
///
/// The step runs only when the config in force allows it for the customer (the sub-processor is in force in
/// this region and the customer has not objected: ``NodeBundle/Customer/steps``) and the service's host is
/// one of that sub-processor's registered egress hosts. Otherwise nothing leaves the node.
public final class ContentAnalyzer: Sendable {
    /// The analysis endpoint (`--analysis-url`); nil when this node has none.
    let url: String?
    let egress: EgressClient
    let logger: Logger
    static let timeout: TimeAmount = .seconds(5)
    static let responseLimit = 16 * 1024

    public init(url: String?, egress: EgressClient, logger: Logger) {
        self.url = url
        self.egress = egress
        self.logger = logger
    }

    /// Runs the step if `bundle` allows it for `customer`; nil when it must not run. When the service fails,
    /// delivery goes on and the payload says why there is no verdict.
    func run(for customer: NodeBundle.Customer, in bundle: NodeBundle, content: MessageContent, subject: String?) async -> WebhookPayload.Analysis? {
        guard let url, customer.steps.contains(.contentAnalysis) else { return nil }
        guard let host = URL(string: url)?.host?.lowercased(),
            bundle.subprocessors.contains(where: { $0.steps.contains(.contentAnalysis) && $0.egressHosts.contains(host) })
        else {
            logger.warning("content analysis: \(url) is not an egress host of a sub-processor in force for it; not run")
            return nil
        }
        let body: [String: Any] = ["customer_id": customer.id, "subject": subject ?? "", "plain": content.plain ?? ""]
        guard let json = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return .failed("cannot encode") }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Meridian-Analysis/1")
        request.body = .bytes(ByteBuffer(bytes: json))
        do {
            let response = try await egress.execute(request, timeout: Self.timeout)
            let data = Data(buffer: try await response.body.collect(upTo: Self.responseLimit))
            guard (200..<300).contains(response.status.code) else { return .failed("the analysis service answered \(response.status.code)") }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let canonical = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            else { return .failed("the analysis service did not answer with a JSON object") }
            return .verdict(Array(canonical))
        } catch {
            return .failed("the analysis service is unreachable: \(error)")
        }
    }
}
