import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer
import OpenAPIRuntime

extension AdminAPI {
    // MARK: - Sub-processors

    func listSubprocessors(_ input: Operations.ListSubprocessors.Input) async throws -> Operations.ListSubprocessors.Output {
        let date = now()
        let items = try await registry.subprocessors.all().map { Components.Schemas.SubProcessor($0, at: date) }
        return .ok(.init(body: .json(.init(items: items, noticeDays: registry.noticeDays))))
    }

    func getSubprocessor(_ input: Operations.GetSubprocessor.Input) async throws -> Operations.GetSubprocessor.Output {
        let entry = try await subprocessor(input.path.subprocessorId)
        let date = now()
        let versions = try await registry.subprocessors.versions(of: entry.id).map {
            Components.Schemas.SubProcessorVersion(
                version: $0.entry.version, change: .init(rawValue: $0.change.rawValue) ?? .changed, changedAt: $0.changedAt,
                changedBy: $0.changedBy, entry: .init($0.entry, at: date))
        }
        return .ok(.init(body: .json(.init(current: .init(entry, at: date), versions: versions))))
    }

    func createSubprocessor(_ input: Operations.CreateSubprocessor.Input) async throws -> Operations.CreateSubprocessor.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let date = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let earliest = date.addingTimeInterval(Double(registry.noticeDays) * 86_400)
        let effective = body.effectiveFrom ?? earliest
        guard effective >= earliest.addingTimeInterval(-1) else {
            throw Problem.invalid(
                "effective_from",
                "effective_from \(ISOTime.string(effective)) is within the \(registry.noticeDays)-day notice period; the earliest is \(ISOTime.string(earliest))")
        }
        let id = try body.id.map { try Self.slug($0) } ?? Self.slug(fromName: body.name)
        let entry = SubProcessor(
            id: id, name: try Self.text(body.name, field: "name"), legalEntity: try Self.text(body.legalEntity, field: "legal_entity"),
            purpose: try Self.text(body.purpose, field: "purpose"), dataCategories: body.dataCategories, regions: try regions(body.regions),
            locations: body.locations, transferMechanism: body.transferMechanism, dpaInPlace: body.dpaInPlace,
            egressHosts: try Self.hosts(body.egressHosts ?? []), steps: try Self.steps(body.steps), announcedAt: date, effectiveFrom: effective)
        let service = catalog.service
        try await registry.subprocessors.add(entry, by: try caller.actor) { customers in
            SubProcessorNotice.notifications(for: entry, to: customers, service: service, at: date)
        }
        publisher.changed()
        return .created(.init(body: .json(.init(entry, at: date))))
    }

    func updateSubprocessor(_ input: Operations.UpdateSubprocessor.Input) async throws -> Operations.UpdateSubprocessor.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let existing = try await subprocessor(input.path.subprocessorId)
        let date = now()
        let regions = try body.regions.map { try self.regions($0) }
        let steps = try body.steps.map(Self.steps)
        let hosts = try body.egressHosts.map(Self.hosts)
        // Widening needs a notice period of its own: refuse it here, with the way to do it.
        func widens<T: Hashable>(_ new: [T]?, _ old: [T], _ field: String) throws {
            if let new, let added = Set(new).subtracting(old).first {
                throw Problem.invalid(
                    field, "adding \(added) to \(field) widens what \(existing.id) may do and needs a notice period: announce it as a new sub-processor")
            }
        }
        try widens(regions, existing.regions, "regions")
        try widens(steps, existing.steps, "steps")
        try widens(body.dataCategories, existing.dataCategories, "data_categories")
        try widens(hosts, existing.egressHosts, "egress_hosts")
        if let until = body.effectiveUntil, until < date.addingTimeInterval(-60) {
            throw Problem.invalid("effective_until", "effective_until \(ISOTime.string(until)) is in the past; retire from now or later")
        }
        let name = try body.name.map { try Self.text($0, field: "name") }
        let legalEntity = try body.legalEntity.map { try Self.text($0, field: "legal_entity") }
        let purpose = try body.purpose.map { try Self.text($0, field: "purpose") }
        let updated = try await registry.subprocessors.update(existing.id, at: date, by: try caller.actor) { entry in
            var detail: [String: String] = [:]
            func set<T: Equatable>(_ keyPath: WritableKeyPath<SubProcessor, T>, _ value: T?, _ field: String) {
                guard let value, entry[keyPath: keyPath] != value else { return }
                entry[keyPath: keyPath] = value
                detail[field] = "changed"
            }
            set(\.name, name, "name")
            set(\.legalEntity, legalEntity, "legal_entity")
            set(\.purpose, purpose, "purpose")
            set(\.dataCategories, body.dataCategories, "data_categories")
            set(\.regions, regions, "regions")
            set(\.locations, body.locations, "locations")
            set(\.transferMechanism, body.transferMechanism, "transfer_mechanism")
            set(\.dpaInPlace, body.dpaInPlace, "dpa_in_place")
            set(\.egressHosts, hosts, "egress_hosts")
            set(\.steps, steps, "steps")
            if let until = body.effectiveUntil, entry.effectiveUntil != until {
                entry.effectiveUntil = until
                detail["effective_until"] = ISOTime.string(until)
            }
            return detail
        }
        publisher.changed()
        return .ok(.init(body: .json(.init(updated, at: date))))
    }

    func subprocessor(_ id: String) async throws -> SubProcessor {
        guard let entry = try await registry.subprocessors.find(id) else { throw Problem.notFound("no sub-processor with id \(id)") }
        return entry
    }

    func regions(_ ids: [String]) throws -> [RegionID] {
        guard !ids.isEmpty else { throw Problem.invalid("regions", "regions must name at least one of \(catalog.regionIDs.map(\.rawValue))") }
        return try ids.map { text in
            guard let id = RegionID(text), catalog.region(id) != nil else {
                throw Problem.invalid("regions", "\"\(text)\" is not a region; use \(catalog.regionIDs.map(\.rawValue).joined(separator: ", "))")
            }
            return id
        }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }.sorted()
    }

    static func steps(_ steps: [Components.Schemas.ProcessingStep]) throws -> [ProcessingStep] {
        guard !steps.isEmpty else { throw Problem.invalid("steps", "steps must name the processing steps the sub-processor serves") }
        return Set(steps.compactMap { ProcessingStep(rawValue: $0.rawValue) }).sorted()
    }

    static func hosts(_ hosts: [String]) throws -> [String] {
        try hosts.map { host in
            let lower = host.lowercased()
            guard DomainName(lower) != nil || IPAddressMask.parseIPv4(lower[...]) != nil else {
                throw Problem.invalid("egress_hosts", "\"\(host)\" is not a host name or an IPv4 address")
            }
            return lower
        }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }.sorted()
    }

    static func text(_ value: String, field: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Problem.invalid(field, "\(field) must not be empty") }
        return trimmed
    }

    static func slug(_ text: String) throws -> String {
        guard (2...40).contains(text.count), text.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }) else {
            throw Problem.invalid("id", "id \"\(text)\" must be 2 to 40 of a-z, 0-9 and -")
        }
        return text
    }

    static func slug(fromName name: String) -> String {
        let words = name.lowercased().split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }
        let slug = String(words.joined(separator: "-").prefix(40))
        return slug.count >= 2 ? slug : "sp-\(UUID().uuidString.prefix(8).lowercased())"
    }

    // MARK: - Objections

    func listObjections(_ input: Operations.ListObjections.Input) async throws -> Operations.ListObjections.Output {
        let customer = try await customer(input.path.customerId)
        let registry = try await self.registry.subprocessors.all()
        let items = try await self.registry.objections.list(customerID: customer.id).map { Components.Schemas.Objection($0, registry: registry) }
        try await recordRead("objection.list", of: customer.id)
        return .ok(.init(body: .json(.init(items: items))))
    }

    func createObjection(_ input: Operations.CreateObjection.Input) async throws -> Operations.CreateObjection.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let customer = try await customer(input.path.customerId)
        guard let entry = try await registry.subprocessors.find(body.subprocessorId) else {
            throw Problem.invalid("subprocessor_id", "no sub-processor with id \(body.subprocessorId); GET /v1/subprocessors lists them")
        }
        let date = now()
        let caller = try caller
        let objection = Objection(
            id: ResourceID.make(prefix: "obj", at: date), customerID: customer.id, subprocessorID: entry.id,
            reason: body.reason?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "", createdAt: Timestamp.date(Timestamp.millis(date)),
            createdBy: caller.token.id, withdrawnAt: nil)
        try await registry.objections.create(objection, by: caller.actor)
        publisher.changed()
        return .created(.init(body: .json(.init(objection, registry: [entry]))))
    }

    func withdrawObjection(_ input: Operations.WithdrawObjection.Input) async throws -> Operations.WithdrawObjection.Output {
        let customer = try await customer(input.path.customerId)
        let objection: Objection
        do {
            objection = try await registry.objections.withdraw(input.path.objectionId, of: customer.id, at: now(), by: try caller.actor)
        } catch RepositoryError.notFound {
            throw Problem.notFound("\(customer.id) has no objection \(input.path.objectionId)")
        }
        publisher.changed()
        return .ok(.init(body: .json(.init(objection, registry: try await registry.subprocessors.all()))))
    }

    // MARK: - DPAs

    func getDPA(_ input: Operations.GetDPA.Input) async throws -> Operations.GetDPA.Output {
        let customer = try await customer(input.path.customerId)
        let dpas = try await registry.dpas.list(customerID: customer.id)
        try await recordRead("dpa.read", of: customer.id)
        let date = now()
        let history = dpas.map { Components.Schemas.Dpa($0, at: date) }
        return .ok(.init(body: .json(.init(current: history.first, history: history))))
    }

    func recordDPA(_ input: Operations.RecordDPA.Input) async throws -> Operations.RecordDPA.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let customer = try await customer(input.path.customerId)
        let signed = try Self.day(body.signedOn, field: "signed_on")
        let date = now()
        guard signed <= CalendarDay(containing: date) else { throw Problem.invalid("signed_on", "signed_on \(signed) is in the future") }
        let hash = body.documentSha256.lowercased()
        guard hash.count == 64, hash.allSatisfy(\.isHexDigit) else {
            throw Problem.invalid("document_sha256", "document_sha256 must be 64 hex digits (sha256sum of the signed document)")
        }
        let caller = try caller
        // The annex: every entry not retired (in force, or announced and so part of what was agreed to).
        let annex = try await registry.subprocessors.all().filter { $0.state(at: date) != .retired }
        let dpa = DPARecord(
            id: ResourceID.make(prefix: "dpa", at: date), customerID: customer.id, version: try Self.text(body.version, field: "version"),
            signedOn: signed, signatory: try Self.text(body.signatory, field: "signatory"), documentSHA256: hash, annex: annex,
            createdAt: Timestamp.date(Timestamp.millis(date)), createdBy: caller.token.id)
        try await registry.dpas.record(dpa, by: caller.actor)
        return .created(.init(body: .json(.init(dpa, at: date))))
    }

    func getDPAAnnex(_ input: Operations.GetDPAAnnex.Input) async throws -> Operations.GetDPAAnnex.Output {
        let customer = try await customer(input.path.customerId)
        guard let dpa = try await registry.dpas.list(customerID: customer.id).first else {
            throw Problem.notFound("\(customer.id) has no DPA on record; POST /v1/customers/\(customer.id)/dpa records one")
        }
        try await recordRead("dpa.annex", of: customer.id)
        let html = site.dpaAnnex(dpa, customerName: customer.name, at: now())
        return .ok(.init(body: .html(HTTPBody(html))))
    }

    // MARK: - Outbox

    func listNotifications(_ input: Operations.ListNotifications.Input) async throws -> Operations.ListNotifications.Output {
        let items = try await registry.outbox.list(customerID: input.query.customerId).map(Components.Schemas.Notification.init)
        return .ok(.init(body: .json(.init(items: items))))
    }
}

// MARK: - Wire conversions

extension Components.Schemas.SubProcessor {
    init(_ entry: SubProcessor, at date: Date) {
        self.init(
            id: entry.id, name: entry.name, legalEntity: entry.legalEntity, purpose: entry.purpose, dataCategories: entry.dataCategories,
            regions: entry.regions.map(\.rawValue), locations: entry.locations, transferMechanism: entry.transferMechanism,
            dpaInPlace: entry.dpaInPlace, egressHosts: entry.egressHosts, steps: entry.steps.compactMap { .init(rawValue: $0.rawValue) },
            announcedAt: entry.announcedAt, effectiveFrom: entry.effectiveFrom, effectiveUntil: entry.effectiveUntil,
            state: .init(rawValue: entry.state(at: date).rawValue) ?? .announced, demo: entry.demo, version: entry.version)
    }
}

extension Components.Schemas.Objection {
    init(_ objection: Objection, registry: [SubProcessor]) {
        let steps = registry.first { $0.id == objection.subprocessorID }?.steps ?? []
        self.init(
            id: objection.id, customerId: objection.customerID, subprocessorId: objection.subprocessorID, reason: objection.reason,
            createdAt: objection.createdAt, createdBy: objection.createdBy, withdrawnAt: objection.withdrawnAt, standing: objection.withdrawnAt == nil,
            skippedSteps: steps.filter(\.isOptional).compactMap { .init(rawValue: $0.rawValue) },
            unavoidableSteps: steps.filter { !$0.isOptional }.compactMap { .init(rawValue: $0.rawValue) })
    }
}

extension Components.Schemas.Dpa {
    init(_ dpa: DPARecord, at date: Date) {
        self.init(
            id: dpa.id, customerId: dpa.customerID, version: dpa.version, signedOn: dpa.signedOn.description, signatory: dpa.signatory,
            documentSha256: dpa.documentSHA256, annex: dpa.annex.map { .init($0, at: date) }, createdAt: dpa.createdAt, createdBy: dpa.createdBy)
    }
}

extension Components.Schemas.Notification {
    init(_ notification: Notification) {
        self.init(
            id: notification.id, customerId: notification.customerID, channel: .init(rawValue: notification.channel.rawValue) ?? .email,
            eventType: notification.eventType, subject: notification.subject, status: .init(rawValue: notification.status.rawValue) ?? .pending,
            attempts: notification.attempts, lastError: notification.lastError,
            nextAttemptAt: notification.status == .pending ? notification.nextAttemptAt : nil, createdAt: notification.createdAt,
            sentAt: notification.sentAt)
    }
}
