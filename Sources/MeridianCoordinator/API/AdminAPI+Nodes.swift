import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    func listNodes(_ input: Operations.ListNodes.Input) async throws -> Operations.ListNodes.Output {
        let latest = try await config.latest()
        let nodes = try await config.nodes().map { Self.nodeState($0, newest: latest?.version) }
        return .ok(.init(body: .json(.init(configVersion: latest?.version, configPublishedAt: latest?.createdAt, nodes: nodes))))
    }

    /// Takes a retired node off the list (and off the pushes); it comes back only if it pulls again.
    func forgetNode(_ request: Operations.ForgetNode.Input) async throws -> Operations.ForgetNode.Output {
        let id = request.path.nodeId
        let latest = try await config.latest()
        guard let node = try await config.forget(node: id, by: try caller.actor, at: now()) else {
            throw Problem.notFound("no node with id \(id); meridian nodes lists them")
        }
        return .ok(.init(body: .json(Self.nodeState(node, newest: latest?.version))))
    }

    static func nodeState(_ node: NodeRecord, newest: Int?) -> Components.Schemas.NodeState {
        Components.Schemas.NodeState(
            id: node.id, region: node.region, controlUrl: node.controlURL, appliedVersion: node.appliedVersion,
            state: state(of: node, newest: newest),
            lastResult: node.lastResult.flatMap { .init(rawValue: $0.rawValue) }, lastError: node.lastError,
            lastResultAt: node.lastResultAt, firstSeenAt: node.firstSeenAt, lastSeenAt: node.lastSeenAt)
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
