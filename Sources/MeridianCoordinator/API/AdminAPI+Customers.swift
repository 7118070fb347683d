import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    var input: CustomerInput { CustomerInput(catalog: catalog, egress: egress) }

    func createCustomer(_ request: Operations.CreateCustomer.Input) async throws -> Operations.CreateCustomer.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let date = now()
        let secret = WebhookSecret.generate()
        let webhook = try input.webhookURL(body.webhook.url)
        var record = CustomerRecord(
            id: ResourceID.make(prefix: "cus", at: date),
            name: try input.name(body.name),
            contactEmail: try input.email(body.contactEmail),
            region: try input.region(body.region),
            domains: try input.domains(body.domains).map(CustomerDomain.init(newDomain:)),
            webhookURL: webhook.url,
            webhookMode: DeliveryMode(rawValue: body.webhook.mode.rawValue) ?? .sync,
            webhookSecretSealed: try secrets.seal(secret),
            metadataRedactions: input.redactions(body.metadataRedactions),
            status: .active, createdAt: date, updatedAt: date, closedAt: nil, purgeAfter: nil)
        record.postFormat = body.webhook.format.flatMap { PostFormat(rawValue: $0.rawValue) } ?? .json
        record.webhookCredentialsSealed = try webhook.credentials.map(secrets.seal)
        if let events = try body.eventsUrl.map({ try input.eventsURL($0) }), !events.isEmpty { record.eventsURL = events }
        try await customers.create(record, by: try caller.actor)
        let stored = try await customer(record.id)
        return .created(.init(body: .json(.init(customer: .init(stored, grace: domainGrace), webhookSecret: secret))))
    }

    func listCustomers(_ request: Operations.ListCustomers.Input) async throws -> Operations.ListCustomers.Output {
        let caller = try caller
        let limit = try pageLimit(request.query.limit)
        let status = request.query.status.map { CustomerRecord.Status(rawValue: $0.rawValue) ?? .active }
        let only: Set<String>?
        switch AuthorizationPolicy.access(caller.role, to: "listCustomers") {
        case .ownAccount: only = Set([caller.token.customerID].compactMap { $0 })
        case .withGrant: only = try await grants.customersGranting(caller.role.rawValue, at: now())
        default: only = nil
        }
        let page = try await customers.list(after: request.query.cursor, limit: limit + 1, status: status, only: only)
        let items = Array(page.prefix(limit))
        if !items.isEmpty {
            try await audit.record(
                AuditEvent("customer.list", target: "", detail: ["count": "\(items.count)", "ids": items.map(\.id).joined(separator: ",")]),
                by: caller.actor, at: now())
        }
        return .ok(.init(body: .json(.init(items: items.map { Components.Schemas.Customer($0, grace: domainGrace) }, nextCursor: page.count > limit ? items.last?.id : nil))))
    }

    func getCustomer(_ request: Operations.GetCustomer.Input) async throws -> Operations.GetCustomer.Output {
        let record = try await customer(request.path.customerId)
        try await recordRead("customer.read", of: record.id)
        return .ok(.init(body: .json(.init(record, grace: domainGrace))))
    }

    func updateCustomer(_ request: Operations.UpdateCustomer.Input) async throws -> Operations.UpdateCustomer.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let id = request.path.customerId
        let current = try await customer(id)
        var changes = CustomerChanges()
        if let webhook = body.webhook {
            changes = try input.webhookChanges(
                url: webhook.url, mode: DeliveryMode(rawValue: webhook.mode.rawValue) ?? current.webhookMode,
                format: webhook.format.flatMap { PostFormat(rawValue: $0.rawValue) }, current: current, secrets: secrets)
        }
        changes.name = try body.name.map { try input.name($0) }
        changes.contactEmail = try body.contactEmail.map { try input.email($0) }
        changes.domains = try body.domains.map { try input.domains($0) }
        changes.metadataRedactions = body.metadataRedactions.map { input.redactions($0) }
        changes.eventsURL = try body.eventsUrl.map { try input.eventsURL($0) }
        let updated = try await customers.update(id, changes, at: now(), by: try caller.actor)
        return .ok(.init(body: .json(.init(updated, grace: domainGrace))))
    }

    func getCustomerRegion(_ request: Operations.GetCustomerRegion.Input) async throws -> Operations.GetCustomerRegion.Output {
        let record = try await customer(request.path.customerId)
        try await recordRead("customer.region.read", of: record.id)
        return .ok(.init(body: .json(try await regionPin(record))))
    }

    func setCustomerRegion(_ request: Operations.SetCustomerRegion.Input) async throws -> Operations.SetCustomerRegion.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let id = request.path.customerId
        let record = try await customer(id)
        guard record.status == .active else {
            throw Problem.conflict("customer \(id) is closed; reopen it before changing its region")
        }
        let region = try input.region(body.region)
        let updated = try await customers.setRegion(id, to: region, reason: try input.reason(body.reason), at: now(), by: try caller.actor)
        return .ok(.init(body: .json(try await regionPin(updated))))
    }

    func getCustomerDNS(_ request: Operations.GetCustomerDNS.Input) async throws -> Operations.GetCustomerDNS.Output {
        let record = try await customer(request.path.customerId)
        try await recordRead("customer.dns.read", of: record.id)
        let plan = DNSRecordPlan(pin: record.region, catalog: catalog, domains: record.domains.map { ($0.domain, $0.verificationToken) })
        let records = plan.records.map { entry in
            Components.Schemas.DNSRecord(
                domain: entry.domain, _type: entry.kind == .mx ? .mx : .txt, name: entry.name, value: entry.value,
                priority: entry.priority, purpose: entry.purpose)
        }
        return .ok(.init(body: .json(.init(customerId: record.id, region: record.region?.rawValue, mxHost: plan.mxHost, records: records))))
    }

    /// A new webhook secret, shown once; the old one keeps signing for the overlap (24 h unless said otherwise).
    func rotateWebhookSecret(_ request: Operations.RotateWebhookSecret.Input) async throws -> Operations.RotateWebhookSecret.Output {
        let record = try await customer(request.path.customerId)
        guard record.status == .active else { throw Problem.conflict("customer \(record.id) is closed; reopen it before rotating its secret") }
        var hours = 24
        if let body = request.body, case .json(let rotation) = body, let given = rotation.overlapHours { hours = given }
        guard (0...168).contains(hours) else { throw Problem.invalid("overlap_hours", "overlap_hours must be from 0 to 168, not \(hours)") }
        let date = now()
        let secret = WebhookSecret.generate()
        let until = hours == 0 ? nil : date.addingTimeInterval(Double(hours) * 3600)
        _ = try await customers.rotateWebhookSecret(record.id, to: try secrets.seal(secret), overlapUntil: until, at: date, by: try caller.actor)
        return .created(.init(body: .json(.init(customerId: record.id, webhookSecret: secret, previousValidUntil: until))))
    }

    func getFilteringPolicy(_ request: Operations.GetFilteringPolicy.Input) async throws -> Operations.GetFilteringPolicy.Output {
        let record = try await customer(request.path.customerId)
        return .ok(.init(body: .json(.init(record.filtering))))
    }

    /// Replaces the policy; fields left out take the standard value. The nodes apply it from the next version.
    func setFilteringPolicy(_ request: Operations.SetFilteringPolicy.Input) async throws -> Operations.SetFilteringPolicy.Output {
        let record = try await customer(request.path.customerId)
        guard record.status == .active else { throw Problem.conflict("customer \(record.id) is closed; reopen it before changing its filtering") }
        guard case .json(let body) = request.body else { throw Problem.invalid("body", "expected a JSON filtering policy") }
        let standard = FilteringPolicy.standard
        let policy = FilteringPolicy(
            spamMode: body.spamMode.flatMap { FilteringPolicy.SpamMode(rawValue: $0.rawValue) } ?? standard.spamMode,
            spamThreshold: body.spamThreshold ?? standard.spamThreshold,
            virusMode: body.virusMode.flatMap { FilteringPolicy.VirusMode(rawValue: $0.rawValue) } ?? standard.virusMode,
            rejectDMARCFailures: body.rejectDmarcFailures ?? standard.rejectDMARCFailures,
            onScannerFailure: body.onScannerFailure.flatMap { FilteringPolicy.ScannerFailure(rawValue: $0.rawValue) } ?? standard.onScannerFailure)
        do {
            try policy.validate()
        } catch {
            throw Problem.invalid("spam_threshold", error.reason)
        }
        let updated = try await customers.setFiltering(record.id, to: policy, at: now(), by: try caller.actor)
        return .ok(.init(body: .json(.init(updated.filtering))))
    }

    func closeCustomer(_ request: Operations.CloseCustomer.Input) async throws -> Operations.CloseCustomer.Output {
        let reason = try input.reason(request.query.reason)
        let id = request.path.customerId
        let record = try await customer(id)
        guard record.status == .active else { throw Problem.conflict("customer \(id) is already closed") }
        let date = now()
        let purgeAfter = date.addingTimeInterval(catalog.closedAccountPeriod(for: record.region).timeInterval)
        let closed = try await customers.close(id, at: date, purgeAfter: purgeAfter, reason: reason, by: try caller.actor)
        return .ok(.init(body: .json(.init(closed, grace: domainGrace))))
    }

    func reopenCustomer(_ request: Operations.ReopenCustomer.Input) async throws -> Operations.ReopenCustomer.Output {
        let id = request.path.customerId
        let record = try await customer(id)
        guard record.status == .closed else { throw Problem.conflict("customer \(id) is not closed") }
        let reopened = try await customers.reopen(id, at: now(), by: try caller.actor)
        return .ok(.init(body: .json(.init(reopened, grace: domainGrace))))
    }

    // MARK: - Helpers

    func regionPin(_ record: CustomerRecord) async throws -> Components.Schemas.RegionPin {
        let history = try await customers.regionHistory(record.id).map { change in
            Components.Schemas.RegionPinEvent(
                from: change.from?.rawValue, to: change.to?.rawValue, at: change.at, actorId: change.actorID,
                actorRole: change.actorRole, reason: change.reason)
        }
        return .init(customerId: record.id, region: record.region?.rawValue, mxHost: catalog.mxHost(for: record.region), history: history)
    }

    func pageLimit(_ limit: Int?, maximum: Int = 200, default fallback: Int = 50) throws -> Int {
        guard let limit else { return fallback }
        guard (1...maximum).contains(limit) else {
            throw Problem.invalid("limit", "limit must be from 1 to \(maximum), not \(limit)")
        }
        return limit
    }
}

extension AdminAPI {
    func testWebhook(_ request: Operations.TestWebhook.Input) async throws -> Operations.TestWebhook.Output {
        let record = try await customer(request.path.customerId)
        let result = try await testDelivery.send(to: record)
        try await audit.record(
            AuditEvent("customer.webhook.test", target: record.id, detail: [
                "outcome": result.outcome.rawValue, "status_code": result.statusCode.map(String.init) ?? "none", "format": result.format.rawValue,
            ]), by: try caller.actor, at: now())
        return .ok(.init(body: .json(.init(result))))
    }
}

extension Components.Schemas.TestDeliveryResult {
    init(_ result: TestDelivery.Result) {
        self.init(
            outcome: .init(rawValue: result.outcome.rawValue) ?? .failed, statusCode: result.statusCode, answer: result.answer,
            durationMs: result.durationMilliseconds, format: .init(rawValue: result.format.rawValue) ?? .json, webhookId: result.webhookID)
    }
}
