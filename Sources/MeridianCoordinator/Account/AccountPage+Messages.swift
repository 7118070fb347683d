import Foundation
import Hummingbird
import MeridianAPI
import MeridianCore
import MeridianServer

/// The message log, the reason the metadata is kept: every message of the retention period from every region,
/// asked of the nodes as the API asks them (only the query's result crosses a region), filtered and paged; a
/// message's page with each attempt; redelivery of what still waits in a spool; release or deletion of what the
/// quarantine holds. Every read is audited as the API's are.
extension AccountPage {
    static let messagesPerPage = 50

    func registerMessages(on router: Router<CoordinatorRequestContext>) {
        router.get("/account/messages") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            var view = MessagesView(nav: AccountNav(signedIn, current: .messages), notice: try await sessions.takeNotice(signedIn.session))
            let parameters = Self.formQuery(request.uri.query)
            func text(_ name: String) -> String? {
                parameters[name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : String($0.prefix(320)) }
            }
            view.filter = .init(
                status: text("status") ?? "", sender: text("sender") ?? "", recipient: text("recipient") ?? "", subject: text("subject") ?? "",
                since: text("since") ?? "", until: text("until") ?? "")
            view.statuses = [MessagesView.Choice(value: "", name: "Any status", selected: view.filter.status.isEmpty)]
                + DeliveryStatus.allCases.map { .init(value: $0.rawValue, name: $0.rawValue, selected: $0.rawValue == view.filter.status) }
            var query = MessageQuery(customerID: signedIn.customer.id)
            query.limit = Self.messagesPerPage
            (query.sender, query.recipient, query.subject) = (text("sender"), text("recipient"), text("subject"))
            do {
                if let status = text("status") {
                    guard let known = DeliveryStatus(rawValue: status) else { throw Problem(.badRequest, "There is no status \"\(status)\".") }
                    query.status = known
                }
                query.since = try Self.day(text("since"), name: "From")
                // "Until" is inclusive: the whole day.
                query.until = try Self.day(text("until"), name: "Until")?.addingTimeInterval(86_400)
                if let since = query.since, let until = query.until, since >= until {
                    throw Problem(.badRequest, "The From date must not be after the Until date.")
                }
                if let after = text("after") {
                    guard let cursor = MessageQuery.Cursor(after) else { throw Problem(.badRequest, "That page link is not one of ours; start again.") }
                    query.after = cursor
                }
            } catch let problem as Problem {
                view.notice = .init(text: problem.detail, isError: true)
                return page("account-messages", view, status: .badRequest)
            }
            try await audit.record(
                AuditEvent("customer.messages.read", target: signedIn.customer.id, detail: Dictionary(query.parameters.dropFirst().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })),
                by: signedIn.actor(context), at: now())
            let answers = try await fleet.queryMessages(query)
            let records = Array(answers.flatMap(\.records).sorted(by: AdminAPI.newestFirst).prefix(Self.messagesPerPage))
            view.messages = records.map(MessagesView.Row.init)
            view.unreachable = answers.filter { $0.status != .ok }.map { "\($0.region ?? $0.url): \($0.detail ?? $0.status.rawValue)" }
            if records.count == Self.messagesPerPage, let cursor = records.last?.cursor {
                var items = URLComponents()
                items.queryItems = ["status", "sender", "recipient", "subject", "since", "until"].compactMap { name in text(name).map { URLQueryItem(name: name, value: $0) } }
                    + [URLQueryItem(name: "after", value: cursor)]
                view.older = "/account/messages?" + (items.percentEncodedQuery ?? "")
            }
            return page("account-messages", view)
        }
        router.get("/account/messages/{id}/{recipient}") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            guard let key = Self.deliveryKey(context) else { return page("account-refused", NoticePage(notice: .init(text: "No such message.", isError: true), csrf: ""), status: .notFound) }
            try await audit.record(
                AuditEvent("customer.message.read", target: signedIn.customer.id, detail: ["message_id": key.messageID, "recipient": "\(key.recipient)"]),
                by: signedIn.actor(context), at: now())
            let notice = try await sessions.takeNotice(signedIn.session)
            let (found, unanswered) = try await fleet.delivery(customer: signedIn.customer.id, key: key)
            guard let found else {
                let missing = AccountSessions.Notice(text: AdminAPI.notFound(key, of: signedIn.customer.id, unanswered: unanswered).detail, isError: true)
                return page("account-message", MessageView(nav: AccountNav(signedIn, current: .messages), notice: missing, csrf: signedIn.session.csrf), status: .notFound)
            }
            return page("account-message", MessageView(found, nav: AccountNav(signedIn, current: .messages), notice: notice, csrf: signedIn.session.csrf))
        }
        router.post("/account/messages/{id}/{recipient}/redeliver") { request, context in
            let key = Self.deliveryKey(context)
            let back = key.map { "/account/messages/\($0.messageID)/\($0.recipient)" } ?? "/account/messages"
            return try await change(PlainForm.self, request, context, back: back) { signedIn, _, actor in
                guard let key, let answer = try await fleet.redeliver(customer: signedIn.customer.id, key: key) else {
                    return .init(text: "No node holds that message now; nothing was done.", isError: true)
                }
                try await audit.record(
                    AuditEvent("message.redeliver", target: signedIn.customer.id, detail: [
                        "message_id": key.messageID, "recipient": "\(key.recipient)", "outcome": answer.outcome.rawValue,
                    ]), by: actor, at: now())
                switch answer.outcome {
                case .scheduled: return .init(text: "Delivery brought forward: it is being attempted now. Reload to see the attempt.", isError: false)
                case .due: return .init(text: "It was due already, or an attempt is under way.", isError: false)
                case .notInSpool:
                    return .init(text: "This message is \(answer.status.rawValue) and no longer in the spool: there is nothing left to deliver.", isError: true)
                }
            }
        }
        router.post("/account/messages/{id}/{recipient}/quarantine/{action}") { request, context in
            let key = Self.deliveryKey(context)
            let kind = context.parameters.get("action").flatMap(QuarantineAction.Kind.init)
            let back = key.map { "/account/messages/\($0.messageID)/\($0.recipient)" } ?? "/account/messages"
            return try await change(PlainForm.self, request, context, back: back) { signedIn, _, actor in
                guard let key, let kind else { return .init(text: "Release or delete, nothing else.", isError: true) }
                let outcomes = try await fleet.act(
                    QuarantineAction(action: kind, customerID: signedIn.customer.id, messageIDs: [key.messageID], actor: "customer:\(signedIn.user.id)"))
                let result = outcomes.first?.result ?? .notFound
                try await audit.record(
                    AuditEvent("customer.quarantine.\(kind.rawValue)", target: signedIn.customer.id, detail: [key.messageID: result.rawValue]), by: actor, at: now())
                switch result {
                case .released: return .init(text: "Released: it is being delivered now, under your current settings.", isError: false)
                case .deleted: return .init(text: "Deleted from the quarantine.", isError: false)
                default: return .init(text: "The quarantine does not hold it (\(result.rawValue)); nothing was done.", isError: true)
                }
            }
        }
    }

    /// A query string as a browser's GET form writes it (`application/x-www-form-urlencoded`: `+` is a space,
    /// `%2B` a plus); the first value of each name.
    static func formQuery(_ query: String?) -> [String: String] {
        var values: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if values[parts[0]] == nil { values[parts[0]] = parts.count > 1 ? parts[1] : "" }
        }
        return values
    }

    static func deliveryKey(_ context: CoordinatorRequestContext) -> DeliveryKey? {
        guard let id = context.parameters.get("id"), id.count <= 64, let recipient = context.parameters.get("recipient", as: Int.self), recipient >= 0 else { return nil }
        return DeliveryKey(messageID: id, recipient: recipient)
    }

    /// A `YYYY-MM-DD` day (UTC) from a date field, or a problem naming the field.
    static func day(_ text: String?, name: String) throws -> Date? {
        guard let text else { return nil }
        let parts = text.split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (2000...2999).contains(year),
            let date = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: year, month: month, day: day).date,
            Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date).day == day
        else { throw Problem(.badRequest, "\(name) \"\(text)\" is not a date such as 2026-12-01.") }
        return date
    }
}

/// `Templates/account-messages.mustache`.
struct MessagesView {
    struct Filter {
        var status, sender, recipient, subject, since, until: String
    }

    struct Choice {
        var value: String
        var name: String
        var selected: Bool
    }

    struct Row {
        var link: String
        var received: String
        var from: String
        var to: String
        var subject: String
        var status: String
        var attempts: Int
        var region: String

        init(_ record: Components.Schemas.MessageRecord) {
            let metadata = record.metadata.additionalProperties.value
            link = "/account/messages/\(record.messageId)/\(record.recipient)"
            received = ISOTime.string(record.receivedAt)
            from = (metadata["envelope_from"] as? String).map { $0.isEmpty ? "<>" : $0 } ?? "(not kept)"
            to = metadata["envelope_to"] as? String ?? "(not kept)"
            subject = metadata["subject"] as? String ?? "(not kept)"
            status = record.status.rawValue
            attempts = record.attempts
            region = record.region
        }
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var filter = Filter(status: "", sender: "", recipient: "", subject: "", since: "", until: "")
    var statuses: [Choice] = []
    var messages: [Row] = []
    var unreachable: [String] = []
    var older: String?

    init(nav: AccountNav, notice: AccountSessions.Notice?) {
        self.nav = nav
        self.notice = notice
    }
}

/// `Templates/account-message.mustache`.
struct MessageView {
    struct Field {
        var name: String
        var value: String
    }

    struct Attempt {
        var at: String
        var duration: String
        var status: String
        var outcome: String
        var detail: String
        var version: String
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var csrf: String
    var found = false
    var title = ""
    var base = ""
    var status = ""
    var fields: [Field] = []
    var attempts: [Attempt] = []
    var canRedeliver = false
    var quarantined = false

    init(nav: AccountNav, notice: AccountSessions.Notice?, csrf: String) {
        self.nav = nav
        self.notice = notice
        self.csrf = csrf
    }

    init(_ found: NodeFleet.FoundDelivery, nav: AccountNav, notice: AccountSessions.Notice?, csrf: String) {
        self.init(nav: nav, notice: notice, csrf: csrf)
        let delivery = found.detail.delivery
        let metadata = delivery.metadata
        self.found = true
        title = metadata.subject ?? "(subject not kept)"
        base = "/account/messages/\(delivery.messageID)/\(delivery.recipient)"
        status = delivery.status.rawValue
        canRedeliver = delivery.status == .queued || delivery.status == .deferred
        quarantined = delivery.status == .quarantined
        var fields: [(String, String?)] = [
            ("Message", "\(delivery.messageID), recipient \(delivery.recipient)"), ("Received", ISOTime.string(metadata.receivedAt)),
            ("Region", "\(found.region) (node \(found.node))"), ("From (envelope)", metadata.envelopeFrom), ("To (envelope)", metadata.envelopeTo),
            ("Message-ID", metadata.messageID), ("Sender IP", metadata.senderIP), ("HELO", metadata.helo), ("Size", "\(metadata.size) bytes"),
            ("Mode", delivery.mode.rawValue), ("Status", delivery.status.rawValue), ("Attempts", "\(delivery.attempts)"),
            ("Next attempt", delivery.nextAttemptAt.map(ISOTime.string)), ("Finished", delivery.completedAt.map(ISOTime.string)),
            ("Why", delivery.finalReason), ("Accepted under config version", metadata.configVersion.map(String.init)),
            ("webhook-id", delivery.webhookID),
        ]
        if let authentication = metadata.authentication {
            fields.append(("SPF", "\(authentication.spf.result.rawValue) (\(authentication.spf.domain))"))
            fields.append(("DKIM", authentication.dkim.isEmpty ? "none" : authentication.dkim.map { "\($0.result.rawValue) (\($0.domain))" }.joined(separator: ", ")))
            fields.append(("DMARC", authentication.dmarc.result.rawValue + (authentication.dmarc.policy.map { " (p=\($0.rawValue))" } ?? "")))
        }
        if let scan = metadata.scan {
            fields.append(("Spam", scan.spam.score.map { "score " + String(format: "%.2f", $0) } ?? scan.spam.status.rawValue))
            fields.append(("Viruses", scan.virus.viruses.isEmpty ? scan.virus.status.rawValue : scan.virus.viruses.joined(separator: ", ")))
        }
        self.fields = fields.compactMap { name, value in value.map { Field(name: name, value: $0) } }
        attempts = found.detail.attempts.map {
            Attempt(
                at: ISOTime.string($0.at), duration: "\($0.durationMilliseconds) ms", status: $0.statusCode.map(String.init) ?? "none", outcome: $0.outcome,
                detail: $0.detail, version: $0.configVersion.map(String.init) ?? "")
        }
    }
}
