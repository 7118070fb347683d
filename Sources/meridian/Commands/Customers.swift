import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian customers ...`: accounts, region pinning and DNS records through the admin API.
struct Customers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show, pin, close and reopen customer accounts.",
        subcommands: [
            Create.self, List.self, Show.self, Update.self, Pin.self, DNS.self, VerifyDomain.self, RotateSecret.self, Filtering.self, Invite.self, Users.self,
            RemoveUser.self, TestWebhook.self, Close.self, Reopen.self,
        ])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an account; prints its webhook secret once.")
        @OptionGroup var connection: APIConnection
        @Option(help: "The customer's name.") var name: String
        @Option(help: "Contact e-mail address.") var email: String
        @Option(help: "A domain whose mail the account receives (repeatable).") var domain: [String] = []
        @Option(help: "Webhook URL the mail is POSTed to. User info (https://user:password@host/) becomes HTTP Basic credentials, kept sealed and never shown again.")
        var webhook: String
        @Option(help: "Delivery mode: sync or queued.") var mode: Components.Schemas.DeliveryMode = .sync
        @Option(help: "POST format: \(Components.Schemas.PostFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default json, CloudMailin's).")
        var format: Components.Schemas.PostFormat?
        @Option(help: "Where delivery and domain events are posted (message.failed, message.delayed, message.quarantined, domain.unverified).")
        var eventsUrl: String?
        @Option(help: "Region to pin to (eu, us, ap); unpinned when left out.") var region: String?
        @Option(help: "A metadata field never to store (repeatable): \(Components.Schemas.MetadataField.allCases.map(\.rawValue).joined(separator: ", ")).")
        var redact: [Components.Schemas.MetadataField] = []

        func run() async throws {
            let body = Components.Schemas.CustomerCreate(
                name: name, contactEmail: email, region: region, domains: domain,
                webhook: .init(url: webhook, mode: mode, format: format), eventsUrl: eventsUrl, metadataRedactions: redact.isEmpty ? nil : redact)
            let created = try await connection.withClient { try await $0.createCustomer(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(created) }
            printCustomer(created.customer)
            print("webhook secret  \(created.webhookSecret)")
            print("                (shown once: store it where the webhook receiver can verify signatures)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts, oldest first.")
        @OptionGroup var connection: APIConnection
        @Option(help: "Only active or closed accounts.") var status: Components.Schemas.CustomerStatus?
        @Option(help: "Page size (1-200).") var limit = 50
        @Option(help: "Continue after this cursor (printed at the end of a full page).") var cursor: String?

        func run() async throws {
            let page = try await connection.withClient {
                try await $0.listCustomers(query: .init(limit: limit, cursor: cursor, status: status)).ok.body.json
            }
            if connection.json { return try printJSON(page) }
            printTable(
                ["ID", "NAME", "REGION", "STATUS", "DOMAINS"],
                page.items.map { [$0.id, $0.name, $0.region ?? "unpinned", $0.status.rawValue, $0.domains.joined(separator: ",")] })
            if let next = page.nextCursor { print("more: --cursor \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one account.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String

        func run() async throws {
            let customer = try await connection.withClient { try await $0.getCustomer(path: .init(customerId: id)).ok.body.json }
            if connection.json { return try printJSON(customer) }
            printCustomer(customer)
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an account's name, contact, domains or webhook; the nodes get the change as a new config version.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Option(help: "The customer's name.") var name: String?
        @Option(help: "Contact e-mail address.") var email: String?
        @Option(help: "The account's domains, all of them (repeatable; replaces the list).") var domain: [String] = []
        @Option(help: "Webhook URL the mail is POSTed to; user info in it becomes HTTP Basic credentials. A new URL without user info drops the old credentials.")
        var webhook: String?
        @Option(help: "Delivery mode: sync or queued (default: the account's current mode).") var mode: Components.Schemas.DeliveryMode?
        @Option(help: "POST format: \(Components.Schemas.PostFormat.allCases.map(\.rawValue).joined(separator: ", ")) (default: the account's current format).")
        var format: Components.Schemas.PostFormat?
        @Option(help: "Where delivery and domain events are posted; an empty string removes it.") var eventsUrl: String?

        func run() async throws {
            guard name != nil || email != nil || !domain.isEmpty || webhook != nil || mode != nil || format != nil || eventsUrl != nil else {
                throw ValidationError("nothing to change: give --name, --email, --domain, --webhook, --mode, --format or --events-url")
            }
            let customer = try await connection.withClient { client in
                // What is not given stays as the account has it; the same URL keeps its credentials.
                var change: Components.Schemas.Webhook?
                if webhook != nil || mode != nil || format != nil {
                    let current = try await client.getCustomer(path: .init(customerId: id)).ok.body.json.webhook
                    change = .init(url: webhook ?? current.url, mode: mode ?? current.mode, format: format ?? current.format)
                }
                let body = Components.Schemas.CustomerUpdate(
                    name: name, contactEmail: email, domains: domain.isEmpty ? nil : domain, webhook: change, eventsUrl: eventsUrl)
                return try await client.updateCustomer(path: .init(customerId: id), body: .json(body)).ok.body.json
            }
            if connection.json { return try printJSON(customer) }
            printCustomer(customer)
        }
    }

    struct Pin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pin an account to a region, or unpin it with 'none'.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Argument(help: "eu, us, ap, or none.") var region: String
        @Option(help: "Why; kept in the region history.") var reason: String?

        func run() async throws {
            let target = region == "none" ? nil : region
            let pin = try await connection.withClient {
                try await $0.setCustomerRegion(path: .init(customerId: id), body: .json(.init(region: target, reason: reason))).ok.body.json
            }
            if connection.json { return try printJSON(pin) }
            print("\(pin.customerId) is \(pin.region.map { "pinned to \($0)" } ?? "unpinned"); its domains need MX 10 \(pin.mxHost)")
        }
    }

    struct DNS: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The DNS records the customer must publish, or (--check) what DNS says now.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Flag(help: "Look the records up now through the coordinator's resolver and say, per domain, whether they are right; an ownership record found verifies its domain.")
        var check = false

        func run() async throws {
            if check {
                let result = try await connection.withClient { try await $0.checkCustomerDNS(path: .init(customerId: id)).ok.body.json }
                if connection.json { return try printJSON(result) }
                print("checked through \(result.resolver); mail should go to \(result.mxHost)")
                printTable(
                    ["DOMAIN", "STATUS", "PROOF", "MX FOUND", "WHAT TO DO"],
                    result.domains.map {
                        [$0.domain, $0.status.rawValue, $0.proof?.rawValue ?? "-", $0.mxHosts.isEmpty ? "-" : $0.mxHosts.joined(separator: ","), $0.detail]
                    })
                return
            }
            let dns = try await connection.withClient { try await $0.getCustomerDNS(path: .init(customerId: id)).ok.body.json }
            if connection.json { return try printJSON(dns) }
            printTable(
                ["NAME", "TYPE", "VALUE"],
                dns.records.map { record in
                    ["\(record.name).", record._type.rawValue, (record.priority.map { "\($0) " } ?? "") + record.value]
                })
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close an account; it can be reopened until its purge date.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Option(help: "Why the account is closed.") var reason: String?

        func run() async throws {
            let customer = try await connection.withClient {
                try await $0.closeCustomer(path: .init(customerId: id), query: .init(reason: reason)).ok.body.json
            }
            if connection.json { return try printJSON(customer) }
            print("\(customer.id) closed; it will be purged after \(iso(customer.purgeAfter)) unless reopened")
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Replace the webhook secret; prints the new one once. The old one keeps signing for the overlap.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Option(help: "Hours the old secret keeps signing beside the new one (0 to 168; 0 drops it at once).") var overlapHours = 24

        func run() async throws {
            guard (0...168).contains(overlapHours) else { throw ValidationError("--overlap-hours must be from 0 to 168, not \(overlapHours)") }
            let rotated = try await connection.withClient {
                try await $0.rotateWebhookSecret(path: .init(customerId: id), body: .json(.init(overlapHours: overlapHours))).created.body.json
            }
            if connection.json { return try printJSON(rotated) }
            print("new webhook secret (shown once): \(rotated.webhookSecret)")
            print(rotated.previousValidUntil.map { "the old secret keeps signing until \(iso($0)); give the receiver the new one before then" }
                ?? "the old secret no longer signs")
        }
    }

    struct VerifyDomain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-domain",
            abstract: "Take a domain as proved by hand when its owner cannot publish the TXT record (admin; audited with the reason).")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Argument(help: "One of the account's domains.") var domain: String
        @Option(help: "Why the domain is taken as proved; kept in the audit log.") var reason: String

        func run() async throws {
            let customer = try await connection.withClient {
                try await $0.verifyCustomerDomain(path: .init(customerId: id, domain: domain), body: .json(.init(reason: reason))).ok.body.json
            }
            if connection.json { return try printJSON(customer) }
            print("\(domain) is verified for \(customer.id); nodes accept its mail from the next config version")
        }
    }

    struct Reopen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reopen a closed account.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String

        func run() async throws {
            let customer = try await connection.withClient { try await $0.reopenCustomer(path: .init(customerId: id)).ok.body.json }
            if connection.json { return try printJSON(customer) }
            print("\(customer.id) is active again")
        }
    }
}

func printCustomer(_ customer: Components.Schemas.Customer) {
    let domains = customer.domainProofs.map { proof in
        switch proof.state {
        case .verified: proof.suspendsAt.map { "\(proof.domain) (verified; record missing, suspended at \(iso($0)))" } ?? "\(proof.domain) (verified)"
        case .pending: "\(proof.domain) (pending: publish TXT \"\(proof.recordValue)\" at \(proof.recordName))"
        case .suspended: "\(proof.domain) (suspended: its TXT record is missing; no mail accepted)"
        }
    }
    printTable(["FIELD", "VALUE"], [
        ["id", customer.id], ["name", customer.name], ["contact_email", customer.contactEmail],
        ["region", customer.region ?? "unpinned"], ["domains", domains.joined(separator: "; ")],
        ["webhook", "\(customer.webhook.url) (\(customer.webhook.mode.rawValue), \(customer.webhook.format?.rawValue ?? "json")\(customer.webhook.basicAuth == true ? ", HTTP Basic auth" : ""))"],
        ["redactions", customer.metadataRedactions.map(\.rawValue).joined(separator: ", ")],
        ["status", customer.status.rawValue], ["created_at", iso(customer.createdAt)],
        ["purge_after", iso(customer.purgeAfter)],
    ])
}

extension Components.Schemas.DeliveryMode: ExpressibleByArgument {}
extension Components.Schemas.PostFormat: ExpressibleByArgument {}
extension Components.Schemas.CustomerStatus: ExpressibleByArgument {}
extension Components.Schemas.MetadataField: ExpressibleByArgument {}
extension Components.Schemas.Role: ExpressibleByArgument {}
