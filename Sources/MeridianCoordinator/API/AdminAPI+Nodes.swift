import Foundation
import MeridianAPI
import MeridianCore

extension AdminAPI {
    func listNodes(_ input: Operations.ListNodes.Input) async throws -> Operations.ListNodes.Output {
        let latest = try await config.latest()
        let nodes = try await config.nodes().map { node in
            Components.Schemas.NodeState(
                id: node.id, region: node.region, controlUrl: node.controlURL, appliedVersion: node.appliedVersion,
                state: Self.state(of: node, newest: latest?.version),
                lastResult: node.lastResult.flatMap { .init(rawValue: $0.rawValue) }, lastError: node.lastError,
                lastResultAt: node.lastResultAt, firstSeenAt: node.firstSeenAt, lastSeenAt: node.lastSeenAt)
        }
        return .ok(.init(body: .json(.init(configVersion: latest?.version, configPublishedAt: latest?.createdAt, nodes: nodes))))
    }

    static func state(of node: NodeRecord, newest: Int?) -> Components.Schemas.NodeState.StatePayload {
        switch node.lastResult {
        case .nack: return .refused
        case .unreachable: return .unreachable
        default: return (node.appliedVersion ?? 0) >= (newest ?? 0) ? .inSync : .behind
        }
    }

    func checkCustomerDNS(_ request: Operations.CheckCustomerDNS.Input) async throws -> Operations.CheckCustomerDNS.Output {
        let record = try await customer(request.path.customerId)
        try await recordRead("customer.dns.check", of: record.id)
        let results = await resolver.check(domains: record.domains, pin: record.region, catalog: catalog)
        return .ok(.init(body: .json(.init(
            customerId: record.id, region: record.region?.rawValue, mxHost: catalog.mxHost(for: record.region), resolver: resolver.description,
            checkedAt: now(),
            domains: results.map { result in
                Components.Schemas.DNSDomainCheck(
                    domain: result.domain, status: .init(rawValue: result.status.rawValue) ?? .lookupFailed, mxHosts: result.mxHosts,
                    mxRegion: result.mxRegion?.rawValue, ownership: .init(rawValue: result.ownership.rawValue) ?? .lookupFailed,
                    detail: result.detail)
            }))))
    }
}
