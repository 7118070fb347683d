import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    func listNodes(_ input: Operations.ListNodes.Input) async throws -> Operations.ListNodes.Output {
        let latest = try await config.latest()
        let list = try await nodes.nodes().map { Self.nodeState($0, newest: latest?.version) }
        let leader = leadership.leader.map { Components.Schemas.Leader(replica: $0.replica, term: Int($0.term), since: $0.since) }
        return .ok(.init(body: .json(.init(
            configVersion: latest?.version, configPublishedAt: latest?.createdAt, replica: leadership.replica, leader: leader, nodes: list))))
    }

    /// Takes a retired node off the list (and off the pushes); it comes back only if it pulls again.
    func forgetNode(_ request: Operations.ForgetNode.Input) async throws -> Operations.ForgetNode.Output {
        let id = request.path.nodeId
        let latest = try await config.latest()
        guard let node = try await nodes.forget(node: id, by: try caller.actor, at: now()) else {
            throw Problem.notFound("no node with id \(id); meridian nodes lists them")
        }
        return .ok(.init(body: .json(Self.nodeState(node, newest: latest?.version))))
    }

    /// Enrolls a node: its region, id and control URL are fixed here, and its one-time join token is shown once.
    func enrollNode(_ request: Operations.EnrollNode.Input) async throws -> Operations.EnrollNode.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send the enrollment as application/json") }
        guard let region = RegionID(body.region), catalog.region(region) != nil else {
            throw Problem.invalid("region", "region \"\(body.region)\" is not one of \(catalog.regionIDs.map(\.rawValue).joined(separator: ", "))")
        }
        guard NodeIdentity.isNodeID(body.nodeId) else {
            throw Problem.invalid("node_id", "node_id must be 1 to 64 letters, digits, - _ or ., not \"\(body.nodeId)\"")
        }
        guard let url = URLComponents(string: body.controlUrl), url.scheme == "https", let host = url.host, !host.isEmpty,
            url.user == nil, url.query == nil, url.fragment == nil, url.path.isEmpty || url.path == "/"
        else {
            throw Problem.invalid(
                "control_url", "control_url must be the node's control API over TLS, such as https://eu-1.internal:9101, not \"\(body.controlUrl)\"")
        }
        let controlURL = body.controlUrl.hasSuffix("/") ? String(body.controlUrl.dropLast()) : body.controlUrl
        let (node, token, expires) = try await nodes.enroll(
            body.nodeId, region: region, controlURL: controlURL, pinning: authority.coordinatorCA.certificate.fingerprint, by: try caller.actor,
            at: now())
        let latest = try await config.latest()
        return .created(.init(body: .json(.init(
            node: Self.nodeState(node, newest: latest?.version), joinToken: token.description, joinTokenExpiresAt: expires))))
    }


    /// Ends a node's access at once.
    func revokeNode(_ request: Operations.RevokeNode.Input) async throws -> Operations.RevokeNode.Output {
        let id = request.path.nodeId
        guard let node = try await nodes.revoke(id, by: try caller.actor, at: now()) else {
            throw Problem.notFound("no node with id \(id); meridian nodes lists them")
        }
        return .ok(.init(body: .json(Self.nodeState(node, newest: try await config.latest()?.version))))
    }

    static func nodeState(_ node: NodeRecord, newest: Int?) -> Components.Schemas.NodeState {
        Components.Schemas.NodeState(
            id: node.id, region: node.region, controlUrl: node.controlURL, appliedVersion: node.appliedVersion,
            state: state(of: node, newest: newest),
            lastResult: node.lastResult.flatMap { .init(rawValue: $0.rawValue) }, lastError: node.lastError,
            lastResultAt: node.lastResultAt, firstSeenAt: node.firstSeenAt, lastSeenAt: node.lastSeenAt,
            enrollment: .init(rawValue: node.enrollment.rawValue), certificateExpiresAt: node.certificateExpiresAt)
    }

    static func state(of node: NodeRecord, newest: Int?) -> Components.Schemas.NodeState.StatePayload {
        switch node.lastResult {
        case .nack: return .refused
        case .unreachable: return .unreachable
        default: return (node.appliedVersion ?? 0) >= (newest ?? 0) ? .inSync : .behind
        }
    }
}
