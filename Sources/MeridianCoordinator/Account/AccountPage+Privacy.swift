import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// Privacy: the sub-processors with the account's objections (each with its notice period and the steps an
/// objection removes), the DPA on record and its annex, support's access grants, and the account's own data as
/// one JSON file.
extension AccountPage {
    func registerPrivacy(on router: Router<CoordinatorRequestContext>) {
        router.get("/account/privacy") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let notice = try await sessions.takeNotice(signedIn.session)
            let id = signedIn.customer.id
            let view = PrivacyView(
                signedIn, notice: notice, registry: try await registry.subprocessors.all(), objections: try await registry.objections.list(customerID: id),
                dpa: try await registry.dpas.list(customerID: id).first, grants: try await grants.list(customerID: id), now: now())
            return page("account-privacy", view)
        }
        router.post("/account/privacy/objections/{subprocessor}") { request, context in
            let subprocessor = try context.parameters.require("subprocessor")
            return try await change(ObjectionForm.self, request, context, back: "/account/privacy") { signedIn, form, actor in
                guard let entry = try await registry.subprocessors.find(subprocessor) else { return .init(text: "No such sub-processor.", isError: true) }
                let standing = try await registry.objections.list(customerID: signedIn.customer.id).filter { $0.subprocessorID == entry.id && $0.withdrawnAt == nil }
                if let objection = standing.first {
                    _ = try await registry.objections.withdraw(objection.id, of: signedIn.customer.id, at: now(), by: actor)
                    publisher.changed()
                    return .init(text: "Objection to \(entry.name) withdrawn: its steps may run for you again from the next config version.", isError: false)
                }
                let date = now()
                let reason = try CustomerInput(catalog: catalog).reason(form.reason, field: "reason") ?? ""
                try await registry.objections.create(
                    Objection(
                        id: ResourceID.make(prefix: "obj", at: date), customerID: signedIn.customer.id, subprocessorID: entry.id, reason: reason,
                        createdAt: Timestamp.date(Timestamp.millis(date)), createdBy: signedIn.user.id, withdrawnAt: nil), by: actor)
                publisher.changed()
                return .init(text: "You object to \(entry.name). \(PrivacyView.effect(of: entry.steps))", isError: false)
            }
        }
        router.post("/account/privacy/grants") { request, context in
            try await change(GrantForm.self, request, context, back: "/account/privacy") { signedIn, form, actor in
                guard let reason = try CustomerInput(catalog: catalog).reason(form.reason), !reason.isEmpty else {
                    return .init(text: "Say why support may look (it is kept in the audit log).", isError: true)
                }
                guard let hours = Int(form.hours ?? "24"), (1...720).contains(hours) else {
                    return .init(text: "Hours must be a whole number from 1 to 720 (30 days).", isError: true)
                }
                let date = now()
                try await grants.create(
                    AccessGrantRecord(
                        id: ResourceID.make(prefix: "grt", at: date), customerID: signedIn.customer.id, role: Role.support.rawValue, reason: reason,
                        createdAt: date, createdBy: signedIn.user.id, expiresAt: date.addingTimeInterval(Double(hours) * 3600), revokedAt: nil), by: actor)
                return .init(text: "Support may read this account until \(ISOTime.string(date.addingTimeInterval(Double(hours) * 3600))); every read is audited.", isError: false)
            }
        }
        router.post("/account/privacy/grants/{grant}/revoke") { request, context in
            let id = try context.parameters.require("grant")
            return try await change(PlainForm.self, request, context, back: "/account/privacy") { signedIn, _, actor in
                do {
                    _ = try await grants.revoke(id, customerID: signedIn.customer.id, at: now(), by: actor)
                } catch RepositoryError.notFound {
                    return .init(text: "This account has no such grant.", isError: true)
                }
                return .init(text: "Support's access ended.", isError: false)
            }
        }
        router.get("/account/privacy/dpa-annex") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            guard let dpa = try await registry.dpas.list(customerID: signedIn.customer.id).first else {
                return page("account-refused", NoticePage(notice: .init(text: "No DPA is on record for this account.", isError: true), csrf: ""), status: .notFound)
            }
            try await audit.record(AuditEvent("dpa.annex", target: signedIn.customer.id), by: signedIn.actor(context), at: now())
            return Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: site.dpaAnnex(dpa, customerName: signedIn.customer.name, at: now()))))
        }
        router.get("/account/privacy/export") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let export = try await accountExport(signedIn)
            try await audit.record(AuditEvent("customer.export", target: signedIn.customer.id), by: signedIn.actor(context), at: now())
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/json", .cacheControl: "no-store",
                    .contentDisposition: "attachment; filename=\"meridian-\(signedIn.customer.id).json\"",
                ],
                body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(export))))
        }
    }

    /// Everything the coordinator keeps about the account, secrets left out: the account, its people, API keys,
    /// region history, grants, objections, DPAs and the audit entries about it. Messages stay in their regions
    /// (the message log, and data-subject requests, reach them).
    func accountExport(_ signedIn: SignedIn) async throws -> AccountExport {
        let customer = signedIn.customer
        let id = customer.id
        return AccountExport(
            exportedAt: now(), account: .init(
                id: id, name: customer.name, contactEmail: customer.contactEmail, region: customer.region?.rawValue,
                domains: customer.domains.map { .init(domain: $0.domain, state: $0.state.rawValue) }, webhookURL: customer.webhookURL,
                webhookMode: customer.webhookMode.rawValue, postFormat: customer.postFormat.rawValue, basicAuth: customer.webhookCredentialsSealed != nil,
                metadataRedactions: customer.metadataRedactions.map(\.rawValue), status: customer.status.rawValue, createdAt: customer.createdAt),
            people: try await people.users(id).map { .init(id: $0.id, email: $0.email, name: $0.name, role: $0.role.rawValue, secondFactor: $0.hasSecondFactor, createdAt: $0.createdAt) },
            apiKeys: try await tokens.list(customerID: id).map { .init(id: $0.id, name: $0.name, createdAt: $0.createdAt, expiresAt: $0.expiresAt, revokedAt: $0.revokedAt) },
            regionHistory: try await customers.regionHistory(id).map { .init(from: $0.from?.rawValue, to: $0.to?.rawValue, at: $0.at, reason: $0.reason) },
            accessGrants: try await grants.list(customerID: id).map { .init(id: $0.id, reason: $0.reason, createdAt: $0.createdAt, expiresAt: $0.expiresAt, revokedAt: $0.revokedAt) },
            objections: try await registry.objections.list(customerID: id).map { .init(subprocessorID: $0.subprocessorID, reason: $0.reason, createdAt: $0.createdAt, withdrawnAt: $0.withdrawnAt) },
            dpas: try await registry.dpas.list(customerID: id).map { .init(version: $0.version, signedOn: $0.signedOn.description, signatory: $0.signatory, documentSHA256: $0.documentSHA256) },
            audit: try await audit.entries(target: id, limit: 100_000).map {
                .init(at: Date(timeIntervalSince1970: Double($0.timestampMillis) / 1000), action: $0.action, actorID: $0.actorID, actorRole: $0.actorRole, detail: $0.detail)
            })
    }
}

/// `POST /account/privacy/objections/{id}`: object (with a reason), or withdraw a standing objection.
struct ObjectionForm: AccountForm {
    var csrf: String?
    var reason: String?
}

/// `POST /account/privacy/grants`.
struct GrantForm: AccountForm {
    var csrf: String?
    var reason: String?
    var hours: String?
}

/// The account's own data, as `/account/privacy/export` gives it.
struct AccountExport: Encodable {
    struct Account: Encodable {
        struct Domain: Encodable {
            var domain: String
            var state: String
        }

        var id, name, contactEmail: String
        var region: String?
        var domains: [Domain]
        var webhookURL, webhookMode, postFormat: String
        var basicAuth: Bool
        var metadataRedactions: [String]
        var status: String
        var createdAt: Date
    }

    struct Person: Encodable {
        var id, email, name, role: String
        var secondFactor: Bool
        var createdAt: Date
    }

    struct Key: Encodable {
        var id, name: String
        var createdAt: Date
        var expiresAt, revokedAt: Date?
    }

    struct RegionMove: Encodable {
        var from, to: String?
        var at: Date
        var reason: String?
    }

    struct Grant: Encodable {
        var id, reason: String
        var createdAt, expiresAt: Date
        var revokedAt: Date?
    }

    struct ObjectionEntry: Encodable {
        var subprocessorID, reason: String
        var createdAt: Date
        var withdrawnAt: Date?
    }

    struct DPA: Encodable {
        var version, signedOn, signatory, documentSHA256: String
    }

    struct AuditLine: Encodable {
        var at: Date
        var action, actorID, actorRole: String
        var detail: [String: String]
    }

    var exportedAt: Date
    var account: Account
    var people: [Person]
    var apiKeys: [Key]
    var regionHistory: [RegionMove]
    var accessGrants: [Grant]
    var objections: [ObjectionEntry]
    var dpas: [DPA]
    var audit: [AuditLine]
}

/// `Templates/account-privacy.mustache`.
struct PrivacyView {
    struct Entry {
        var id: String
        var name: String
        var purpose: String
        var state: String
        var notice: String
        var steps: String
        var objected: Bool
        var objectionNote: String
    }

    struct Grant {
        var id: String
        var reason: String
        var until: String
        var state: String
        var active: Bool
    }

    /// What objecting to a sub-processor with these steps does.
    static func effect(of steps: [ProcessingStep]) -> String {
        let optional = steps.filter(\.isOptional)
        let unavoidable = steps.filter { !$0.isOptional }
        var parts: [String] = []
        if !optional.isEmpty { parts.append("Objecting stops \(optional.map(\.summary).joined(separator: ", ")) for your mail, from the next config version.") }
        if !unavoidable.isEmpty {
            parts.append("\(unavoidable.map(\.summary).joined(separator: ", ").capitalizedFirst) cannot be left out for one account: an objection is recorded, and the DPA's remedy applies.")
        }
        return parts.isEmpty ? "It runs no step for your mail." : parts.joined(separator: " ")
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var csrf: String
    var subprocessors: [Entry]
    var dpa: String?
    var grants: [Grant]

    init(
        _ signedIn: AccountPage.SignedIn, notice: AccountSessions.Notice?, registry: [SubProcessor], objections: [Objection], dpa: DPARecord?,
        grants: [AccessGrantRecord], now: Date
    ) {
        nav = AccountNav(signedIn, current: .privacy)
        self.notice = notice
        csrf = signedIn.session.csrf
        let standing = Dictionary(objections.filter { $0.withdrawnAt == nil }.map { ($0.subprocessorID, $0) }, uniquingKeysWith: { a, _ in a })
        subprocessors = registry.filter { $0.state(at: now) != .retired }.map { entry in
            let state = entry.state(at: now)
            return Entry(
                id: entry.id, name: entry.name, purpose: entry.purpose, state: state == .inForce ? "in force" : "announced",
                notice: state == .announced ? "takes effect \(ISOTime.string(entry.effectiveFrom)); you may object until then and after" : "since \(ISOTime.string(entry.effectiveFrom))",
                steps: PrivacyView.effect(of: entry.steps),
                objected: standing[entry.id] != nil,
                objectionNote: standing[entry.id].map { "You object since \(ISOTime.string($0.createdAt))" + ($0.reason.isEmpty ? "" : ": \($0.reason)") } ?? "")
        }
        self.dpa = dpa.map { "Version \($0.version), signed on \($0.signedOn) by \($0.signatory); document SHA-256 \($0.documentSHA256)" }
        self.grants = grants.map { grant in
            let active = grant.revokedAt == nil && grant.expiresAt > now
            return Grant(
                id: grant.id, reason: grant.reason, until: ISOTime.string(grant.expiresAt),
                state: grant.revokedAt != nil ? "ended" : active ? "active" : "expired", active: active)
        }
    }
}

extension String {
    /// The string with its first letter in upper case.
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
