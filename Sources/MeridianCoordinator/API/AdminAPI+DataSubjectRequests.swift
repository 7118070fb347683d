import Crypto
import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer
import OpenAPIRuntime

extension AdminAPI {
    func createGdprRequest(_ input: Operations.CreateGdprRequest.Input) async throws -> Operations.CreateGdprRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        guard let type = DataSubjectRequestType(rawValue: body._type.rawValue) else {
            throw Problem.invalid("type", "type must be one of \(DataSubjectRequestType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let regulation = Regulation(rawValue: body.regulation.rawValue) ?? .gdpr
        guard let subject = SubjectIdentity(email: body.subject.email, customerID: body.subject.customerId) else {
            if body.subject.email == nil && body.subject.customerId == nil || body.subject.email != nil && body.subject.customerId != nil {
                throw Problem.invalid("subject", "subject needs exactly one of email and customer_id")
            }
            if let email = body.subject.email { throw Problem.invalid("subject.email", "subject.email \"\(email)\" is not an e-mail address") }
            throw Problem.invalid("subject.customer_id", "subject.customer_id \"\(body.subject.customerId ?? "")\" is not a customer id (cus_...)")
        }
        // The code goes to the address the request names, or to the account's contact address.
        let sendTo: String
        var customerID = ""
        switch subject {
        case .email(let address):
            sendTo = address
        case .customer(let id):
            guard let customer = try await customers.find(id) else {
                throw Problem.invalid("subject.customer_id", "no customer with id \(id)")
            }
            sendTo = customer.contactEmail
            customerID = customer.id
        }
        let date = Timestamp.date(Timestamp.millis(now()))
        let caller = try caller
        let id = ResourceID.make(prefix: "dsr", at: date)
        let code = VerificationCode.generate()
        let verification = PendingVerification(
            codeHash: VerificationCode.hash(code, requestID: id), sentTo: sendTo, expiresAt: date.addingTimeInterval(VerificationCode.lifetime), attempts: 0)
        let notice = Notification(
            id: ResourceID.make(prefix: "ntf", at: date), customerID: customerID, channel: .email, eventType: "gdpr_request.verification",
            recipient: sendTo, subject: "Your \(regulation.rawValue.uppercased()) request: confirmation code",
            body: try secrets.seal(Self.codeText(code, type: type, service: catalog.service, expires: verification.expiresAt)), bodySealed: true,
            createdAt: date)
        let ticket = DataSubjectRequestRecord(
            id: id, type: type, regulation: regulation, subject: subject, state: .identityPending, receivedAt: date,
            dueAt: regulation.due(receivedAt: date), extended: false, extensionReason: nil, verificationMethod: nil, stateReason: nil,
            notes: body.notes, createdBy: caller.token.id, updatedAt: date, closedAt: nil)
        try await dataSubjectRequests.create(ticket, code: (verification, notice), by: caller.actor)
        return .created(.init(body: .json(.init(ticket, verification: verification, at: date))))
    }

    func listGdprRequests(_ input: Operations.ListGdprRequests.Input) async throws -> Operations.ListGdprRequests.Output {
        let date = now()
        let overdueOnly = input.query.overdue == true
        let tickets = try await dataSubjectRequests.list(open: input.query.open == true, overdueAt: overdueOnly ? date : nil)
        let overdue = try await dataSubjectRequests.openCounts(at: date).overdue
        try await audit.record(AuditEvent("gdpr_request.list", target: "", detail: ["count": "\(tickets.count)"]), by: try caller.actor, at: date)
        return .ok(.init(body: .json(.init(items: tickets.map { .init($0, verification: nil, at: date) }, overdue: overdue))))
    }

    func getGdprRequest(_ input: Operations.GetGdprRequest.Input) async throws -> Operations.GetGdprRequest.Output {
        let ticket = try await dataSubjectRequest(input.path.requestId)
        try await audit.record(AuditEvent("gdpr_request.read", target: ticket.id), by: try caller.actor, at: now())
        let pending = ticket.state == .identityPending ? try await dataSubjectRequests.verification(of: ticket.id) : nil
        var body = Components.Schemas.GdprRequest(ticket, verification: pending, at: now())
        body.answers = try await answers(of: ticket)
        return .ok(.init(body: .json(body)))
    }

    /// Where a fanned-out ticket's directive went and what came back; nil for a ticket that does not fan out or
    /// has not started.
    func answers(of ticket: DataSubjectRequestRecord) async throws -> [Components.Schemas.GdprAnswer]? {
        guard ticket.type.fansOut, [.inProgress, .completed, .cancelled, .rejected].contains(ticket.state) else { return nil }
        let progress: [DirectiveAnswer]
        if ticket.state == .inProgress {
            progress = try await directives.progress(of: ticket.id)
        } else {
            progress = try await dataSubjectRequests.answers(of: ticket.id)
        }
        return progress.map { answer in
            .init(
                place: answer.place, region: answer.region, status: .init(rawValue: answer.status.rawValue) ?? .waiting, attempts: answer.attempts,
                lastError: answer.lastError, answeredAt: answer.answeredAt, signedBy: answer.signedBy,
                classes: answer.classes.map(Components.Schemas.GdprDataClass.init))
        }
    }

    /// The receipts as the nodes signed them, with the node CA, for an auditor to check (`meridian gdpr
    /// verify-receipts`); the records themselves stay sealed here, only their SHA-256 goes out.
    func getGdprReceipts(_ input: Operations.GetGdprReceipts.Input) async throws -> Operations.GetGdprReceipts.Output {
        let ticket = try await dataSubjectRequest(input.path.requestId)
        try await audit.record(AuditEvent("gdpr_request.read", target: ticket.id, detail: ["part": "receipts"]), by: try caller.actor, at: now())
        var digests: [String: String] = [:]
        for (_, place, sealed) in try await dataSubjectRequests.answerData(of: ticket.id) {
            digests[place] = SHA256.hash(data: Data(try secrets.open(sealed).utf8)).hexString
        }
        let receipts = try await dataSubjectRequests.answers(of: ticket.id).filter { $0.status == .answered }.compactMap {
            answer -> Components.Schemas.GdprReceipt? in
            guard let place = answer.place else { return nil }
            return .init(
                place: place, region: answer.region, signedBy: answer.signedBy, statement: answer.signed?.statement,
                signature: answer.signed?.signature, certificate: answer.signed?.certificate, dataSha256: digests[place],
                classes: answer.classes.map(Components.Schemas.GdprDataClass.init))
        }
        return .ok(.init(body: .json(.init(
            requestId: ticket.id, zone: authority.zone, nodeCa: authority.nodeCA.certificate.pem, receipts: receipts))))
    }

    func exportGdprRequest(_ input: Operations.ExportGdprRequest.Input) async throws -> Operations.ExportGdprRequest.Output {
        let ticket = try await dataSubjectRequest(input.path.requestId)
        guard DataSubjectDirective.action(for: ticket.type) == .access else {
            throw Problem.conflict("only access and portability requests have an export; this one is \(ticket.type.rawValue)")
        }
        let answers = try await dataSubjectRequests.answers(of: ticket.id)
        guard ticket.state == .completed else {
            let answered = answers.filter { $0.status == .answered }.count
            throw Problem.conflict(
                "the export is ready once every region has answered and the request is completed; it is \(ticket.state.rawValue), with \(answered) answer\(answered == 1 ? "" : "s") so far")
        }
        var parts: [SubjectExport.Part] = []
        for (region, place, sealed) in try await dataSubjectRequests.answerData(of: ticket.id) {
            let data = try JSONDecoder().decode([String: JSONValue].self, from: Data(try secrets.open(sealed).utf8))
            parts.append(SubjectExport.Part(region: region, place: place, data: data))
        }
        let date = now()
        let zip = try SubjectExport.zip(ticket, progress: answers, parts: parts, service: catalog.service, at: date)
        try await audit.record(
            AuditEvent("gdpr_request.export", target: ticket.id, detail: ["bytes": "\(zip.count)", "places": "\(parts.count)"]), by: try caller.actor, at: date)
        return .ok(.init(
            headers: .init(contentDisposition: "attachment; filename=\"\(ticket.id).zip\""), body: .applicationZip(HTTPBody(zip))))
    }

    func updateGdprRequest(_ input: Operations.UpdateGdprRequest.Input) async throws -> Operations.UpdateGdprRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let state = DataSubjectRequestState(rawValue: body.state.rawValue) ?? .inProgress
        let reason = body.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if state == .completed, let existing = try await dataSubjectRequests.find(input.path.requestId), existing.type.fansOut,
            existing.state.canMove(to: .completed)
        {
            throw Problem.conflict(
                "this \(existing.type.rawValue) request completes by itself once every region has answered its directive; see answers in GET /v1/gdpr-requests/\(existing.id)",
                field: "state")
        }
        if state == .rejected || state == .cancelled, reason?.isEmpty != false {
            throw Problem.invalid("reason", "say why the request is \(state.rawValue): the reason is kept for accountability (GDPR Art. 12(4))")
        }
        let ticket = try await handle { try await dataSubjectRequests.transition(input.path.requestId, to: state, reason: reason, at: now(), by: try caller.actor) }
        return .ok(.init(body: .json(.init(ticket, verification: nil, at: now()))))
    }

    func verifyGdprRequest(_ input: Operations.VerifyGdprRequest.Input) async throws -> Operations.VerifyGdprRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let caller = try caller
        let ticket: DataSubjectRequestRecord
        if body.method == .document {
            guard caller.role == .dpo else { throw Problem.forbidden("only the dpo may record a proof of identity other than the code") }
            guard let reason = body.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
                throw Problem.invalid("reason", "say what proof of identity was seen, such as \"passport checked in person\"")
            }
            let existing = try await dataSubjectRequest(input.path.requestId)
            guard existing.state == .received || existing.state == .identityPending else {
                throw Problem.conflict("the request is already \(existing.state.rawValue); identity is verified once")
            }
            ticket = try await handle {
                try await dataSubjectRequests.transition(existing.id, to: .verified, reason: reason, verificationMethod: "document", at: now(), by: caller.actor)
            }
        } else {
            guard let code = body.code, !code.isEmpty else { throw Problem.invalid("code", "send the code the subject received") }
            ticket = try await handle { try await dataSubjectRequests.verify(input.path.requestId, code: code, at: now(), by: caller.actor) }
        }
        return .ok(.init(body: .json(.init(ticket, verification: nil, at: now()))))
    }

    func extendGdprRequest(_ input: Operations.ExtendGdprRequest.Input) async throws -> Operations.ExtendGdprRequest.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw Problem.invalid("reason", "an extension needs a reason, which the subject is told (GDPR Art. 12(3))") }
        let existing = try await dataSubjectRequest(input.path.requestId)
        let latest = existing.regulation.latestExtension(of: existing.dueAt)
        let until = body.until ?? latest
        guard until <= latest else {
            throw Problem.invalid(
                "until",
                "until \(ISOTime.string(until)) is beyond the cap: \(existing.regulation == .gdpr ? "two months" : "45 days") after the deadline of \(ISOTime.string(existing.dueAt)), so at most \(ISOTime.string(latest))")
        }
        guard until > existing.dueAt else {
            throw Problem.invalid("until", "until must be after the current deadline, \(ISOTime.string(existing.dueAt))")
        }
        let ticket = try await handle { try await dataSubjectRequests.extend(existing.id, until: until, reason: reason, at: now(), by: try caller.actor) }
        return .ok(.init(body: .json(.init(ticket, verification: nil, at: now()))))
    }

    func dataSubjectRequest(_ id: String) async throws -> DataSubjectRequestRecord {
        guard let ticket = try await dataSubjectRequests.find(id) else { throw Problem.notFound("no data-subject request with id \(id)") }
        return ticket
    }

    /// Runs a repository call and turns its refusals into problems that say what to do.
    func handle<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DataSubjectRequestError {
            switch error {
            case .notFound(let id): throw Problem.notFound("no data-subject request with id \(id)")
            case .transition(let from, let to):
                let next = from.next.map(\.rawValue)
                throw Problem.conflict(
                    "a request that is \(from.rawValue) cannot become \(to.rawValue)"
                        + (next.isEmpty ? "; it is closed" : "; next can be \(next.joined(separator: ", "))"), field: "state")
            case .alreadyVerified(let state): throw Problem.conflict("the request is already \(state.rawValue); identity is verified once")
            case .noCodeSent: throw Problem.conflict("no code is waiting for this request")
            case .codeExpired(let date):
                throw Problem.invalid("code", "the code expired at \(ISOTime.string(date)); open a new request or have the dpo record another proof")
            case .tooManyAttempts:
                throw Problem.invalid("code", "the code was tried \(VerificationCode.maximumAttempts) times and no longer counts; the dpo may record another proof")
            case .wrongCode(let left):
                throw Problem.invalid("code", "the code is wrong; \(left) attempt\(left == 1 ? "" : "s") left")
            case .alreadyExtended: throw Problem.conflict("the deadline was already extended once")
            case .closed(let state): throw Problem.conflict("the request is \(state.rawValue); a closed request is not extended")
            }
        }
    }

    static func codeText(_ code: String, type: DataSubjectRequestType, service: ServiceProfile, expires: Date) -> String {
        """
        Hello,

        \(service.controller.name) received a request to exercise your right of \(type.rawValue) for this address.
        To confirm it is you, give this code to our data protection officer (\(service.dpo.email)):

            \(code)

        It is valid until \(ISOTime.string(expires)). If you did not make this request, ignore this message.

        \(service.controller.name)
        """
    }
}

extension Components.Schemas.GdprRequest {
    init(_ ticket: DataSubjectRequestRecord, verification: PendingVerification?, at date: Date) {
        self.init(
            id: ticket.id, _type: .init(rawValue: ticket.type.rawValue) ?? .access, regulation: .init(rawValue: ticket.regulation.rawValue) ?? .gdpr,
            subjectKind: .init(rawValue: ticket.subject.kind) ?? .email, subject: ticket.subject.value,
            state: .init(rawValue: ticket.state.rawValue) ?? .received, nextStates: ticket.state.next.compactMap { .init(rawValue: $0.rawValue) },
            extended: ticket.extended, extensionReason: ticket.extensionReason, receivedAt: ticket.receivedAt, dueAt: ticket.dueAt,
            overdue: ticket.isOverdue(at: date), verificationMethod: ticket.verificationMethod,
            verification: verification.map { .init(sentTo: $0.sentTo, expiresAt: $0.expiresAt, attemptsLeft: $0.attemptsLeft) },
            stateReason: ticket.stateReason, notes: ticket.notes, createdBy: ticket.createdBy, updatedAt: ticket.updatedAt, closedAt: ticket.closedAt)
    }
}

extension Components.Schemas.GdprDataClass {
    /// A place's count for one data class, as the API shows it.
    init(_ count: DataClassCount) {
        self.init(dataClass: count.dataClass, found: count.found, erased: count.erased, held: count.held, holdReasons: count.holdReasons)
    }
}
