import Crypto
import Foundation
import Logging
import MeridianCore
import MeridianServer

/// Carries out access, portability and erasure tickets: signs a directive, sends it to every node of every
/// region (and runs the coordinator's own part), keeps each receipt, and completes the ticket once every region
/// has answered. A node that does not answer is tried again on the next pass; the ticket stays in progress.
public struct DirectiveDispatcher: Sendable {
    let requests: DataSubjectRequestRepository
    let nodes: NodeRepository
    let legalRequests: LegalRequestRepository
    let own: CoordinatorSubjectData
    let catalog: RegionCatalog
    let secrets: SecretBox
    let key: Curve25519.Signing.PrivateKey
    let pusher: NodePusher
    /// The node CA and the zone: a receipt counts only when signed by the key of the node's own certificate.
    let authority: NodeAuthority
    let now: @Sendable () -> Date
    let logger: Logger
    /// The run of this replica that claims tickets (``Leadership/incarnation``): each ticket is advanced by one replica at a time.
    var replica = "coordinator"

    /// One pass over the tickets in progress, each claimed while it is advanced (``WorkClaim``); returns the ids
    /// of those it completed.
    public func runOnce() async throws -> [String] {
        var completed: [String] = []
        var seen: Set<String> = []
        while let ticket = try await requests.claimFanningOut(at: now(), by: replica, skipping: seen) {
            seen.insert(ticket.id)
            do {
                if try await advance(ticket) { completed.append(ticket.id) }
            } catch {
                try? await requests.release(ticket.id)
                throw error
            }
            try await requests.release(ticket.id)
        }
        return completed
    }

    /// Sends the ticket's directive where no receipt came yet, then completes it if every place answered.
    func advance(_ ticket: DataSubjectRequestRecord) async throws -> Bool {
        guard let action = DataSubjectDirective.action(for: ticket.type) else { return false }
        let date = now()
        let directive = DataSubjectDirective(
            requestID: ticket.id, action: action, subject: ticket.subject, holds: try await legalRequests.openHolds(), issuedAt: date,
            expiresAt: date.addingTimeInterval(DataSubjectDirective.lifetime))
        let answered = Set(try await requests.answers(of: ticket.id).filter { $0.status == .answered }.compactMap(\.place))
        if !answered.contains(DirectiveAnswer.coordinator) {
            let (classes, data) = try await own.carryOut(directive, at: date)
            try await requests.recordAnswer(
                ticket.id, place: DirectiveAnswer.coordinator, region: DirectiveAnswer.coordinator, classes: classes,
                dataSealed: try seal(data), at: date)
        }
        let nodes = try await targets().filter { !answered.contains($0.id) }
        if !nodes.isEmpty {
            let signed = try SignedDirective.sign(directive, with: key)
            await withTaskGroup(of: Void.self) { group in
                for node in nodes {
                    group.addTask { await self.send(signed, ticket: ticket.id, to: node) }
                }
            }
        }
        let progress = try await self.progress(of: ticket.id)
        guard progress.allSatisfy({ $0.status == .answered }) else { return false }
        _ = try await requests.transition(ticket.id, to: .completed, reason: Self.summary(progress, action: action), at: now(), by: .system("gdpr"))
        logger.info("gdpr: every region answered; request completed", metadata: ["request": "\(ticket.id)"])
        return true
    }

    private func send(_ signed: SignedDirective, ticket: String, to node: NodeRecord) async {
        let result = await pusher.send(signed, to: node.controlURL)
        do {
            switch result {
            case .success(let answer):
                let receipt: DirectiveReceipt
                let signer: String
                do {
                    (receipt, signer) = try verified(answer, for: ticket, from: node)
                } catch let refusal as CoreError {
                    logger.error(
                        "gdpr: a node's receipt was refused; the region counts as not answered",
                        metadata: ["request": "\(ticket)", "node": "\(node.id)", "error": "\(refusal.reason)"])
                    try await requests.recordRefusedReceipt(ticket, place: node.id, region: node.region, error: refusal.reason, at: now())
                    return
                }
                try await requests.recordAnswer(
                    // The records as the node sent them, so that their SHA-256 stays the one it signed.
                    ticket, place: node.id, region: node.region, classes: receipt.classes, dataSealed: try answer.data.map(secrets.seal),
                    signed: (answer.receipt, signer), at: now())
            case .failure(let failure):
                logger.warning("gdpr: a node did not answer a directive; retrying", metadata: ["request": "\(ticket)", "node": "\(node.id)", "error": "\(failure)"])
                try await requests.recordFailure(ticket, place: node.id, region: node.region, error: failure.description, at: now())
            }
        } catch {
            logger.error("gdpr: cannot record a node's answer", metadata: ["request": "\(ticket)", "node": "\(node.id)", "error": "\(error)"])
        }
    }

    /// The receipt inside `answer` and who signed it, once it holds: its records are those it names, it was signed
    /// by the key of a certificate the node CA issued to this node (its current or previous one), and it answers
    /// this ticket as this node of this region. Anything else is a ``CoreError`` saying what does not hold.
    func verified(_ answer: SignedReceipt, for ticket: String, from node: NodeRecord) throws -> (DirectiveReceipt, signer: String) {
        let receipt = try answer.opened()
        let certificate = try authority.check(answer.receipt, by: node, at: receipt.completedAt)
        guard receipt.requestID == ticket, receipt.region == node.region, receipt.node == node.id else {
            throw CoreError(
                .nodeSignatureInvalid,
                "the receipt is for \(receipt.requestID) by \(receipt.region)/\(receipt.node), not \(ticket) by \(node.region)/\(node.id)")
        }
        return (receipt, "\(certificate.nodeIdentity?.uri ?? node.id) serial \(certificate.serialHex)")
    }

    /// The nodes a directive goes to: every node known in a region of the catalog.
    private func targets() async throws -> [NodeRecord] {
        let regions = Set(catalog.regionIDs.map(\.rawValue))
        return try await nodes.nodes().filter { $0.takesPushes && regions.contains($0.region) }
    }

    /// Every place that must answer, with what it answered: the coordinator, each known node, and a `waiting`
    /// entry for a region with no node known yet.
    public func progress(of id: String) async throws -> [DirectiveAnswer] {
        let recorded = Dictionary(try await requests.answers(of: id).compactMap { answer in answer.place.map { ($0, answer) } }, uniquingKeysWith: { a, _ in a })
        let nodes = try await targets()
        var progress = [
            recorded[DirectiveAnswer.coordinator]
                ?? DirectiveAnswer(place: DirectiveAnswer.coordinator, region: DirectiveAnswer.coordinator, status: .waiting, attempts: 0, classes: [])
        ]
        for region in catalog.regionIDs.map(\.rawValue) {
            let here = nodes.filter { $0.region == region }
            if here.isEmpty {
                progress.append(
                    DirectiveAnswer(place: nil, region: region, status: .waiting, attempts: 0, lastError: "no node of this region is known yet", classes: []))
            }
            for node in here {
                progress.append(recorded[node.id] ?? DirectiveAnswer(place: node.id, region: region, status: .waiting, attempts: 0, classes: []))
            }
        }
        return progress
    }

    private func seal(_ data: [String: JSONValue]?) throws -> String? {
        guard let data else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try secrets.seal(String(decoding: try encoder.encode(data), as: UTF8.self))
    }

    /// The reason a completed ticket gives: per place, what was found, erased and kept.
    static func summary(_ progress: [DirectiveAnswer], action: DataSubjectDirective.Action) -> String {
        let places = progress.map { answer in
            let found = answer.classes.reduce(0) { $0 + $1.found }
            let erased = answer.classes.reduce(0) { $0 + $1.erased }
            let held = answer.classes.reduce(0) { $0 + $1.held }
            let name = answer.place == DirectiveAnswer.coordinator ? "coordinator" : "\(answer.region)/\(answer.place ?? "-")"
            return action == .erasure ? "\(name): \(found) found, \(erased) erased, \(held) held" : "\(name): \(found) found"
        }
        return "every region answered. " + places.joined(separator: "; ")
    }
}
