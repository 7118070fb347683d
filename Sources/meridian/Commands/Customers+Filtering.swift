import ArgumentParser
import MeridianAPI

extension Customers {
    /// `meridian customers filtering ID`: shows the policy; with options, changes the fields given.
    struct Filtering: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "filtering",
            abstract: "Show or change what the nodes do with the account's spam, viruses, DMARC failures and unscanned mail.",
            discussion: """
                Without options, prints the policy. With options, changes those fields and keeps the others. Refusals are \
                550 5.7.1 inside the SMTP transaction, so they never cause a bounce.
                """)
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Option(help: "mark (deliver, with envelope.spamd.spam) or reject (550 at the threshold).") var spamMode: Components.Schemas.FilteringPolicy.SpamModePayload?
        @Option(help: "The rspamd score at and above which a message is spam (-100 to 1000).") var spamThreshold: Double?
        @Option(help: "reject (550 for a message carrying a virus) or mark (deliver, saying what was found).") var virusMode: Components.Schemas.FilteringPolicy.VirusModePayload?
        @Option(help: "on: refuse mail failing DMARC whose domain publishes p=reject; off: deliver it with the verdict.") var rejectDmarcFailures: Switch?
        @Option(help: "pass (deliver unscanned, saying so) or defer (451, the sender tries again) when a scanner fails.") var onScannerFailure: Components.Schemas.FilteringPolicy.OnScannerFailurePayload?

        func run() async throws {
            if let spamThreshold, !(-100...1000).contains(spamThreshold) || !spamThreshold.isFinite {
                throw ValidationError("--spam-threshold \(spamThreshold): from -100 to 1000")
            }
            let changing = spamMode != nil || spamThreshold != nil || virusMode != nil || rejectDmarcFailures != nil || onScannerFailure != nil
            let policy = try await connection.withClient { client in
                var policy = try await client.getFilteringPolicy(path: .init(customerId: id)).ok.body.json
                guard changing else { return policy }
                policy.spamMode = spamMode ?? policy.spamMode
                policy.spamThreshold = spamThreshold ?? policy.spamThreshold
                policy.virusMode = virusMode ?? policy.virusMode
                policy.rejectDmarcFailures = rejectDmarcFailures.map { $0 == .on } ?? policy.rejectDmarcFailures
                policy.onScannerFailure = onScannerFailure ?? policy.onScannerFailure
                return try await client.setFilteringPolicy(path: .init(customerId: id), body: .json(policy)).ok.body.json
            }
            if connection.json { return try printJSON(policy) }
            if changing { print("customer \(id): filtering changed; the nodes apply it from the next config version") }
            print("spam            \(policy.spamMode?.rawValue ?? "mark") at score \(policy.spamThreshold.map { "\($0)" } ?? "6")")
            print("viruses         \(policy.virusMode?.rawValue ?? "reject")")
            print("DMARC p=reject  \(policy.rejectDmarcFailures == true ? "refused when it fails" : "delivered with the verdict")")
            print("scanner failure \(policy.onScannerFailure?.rawValue ?? "pass")")
        }
    }
}

extension Components.Schemas.FilteringPolicy.SpamModePayload: ExpressibleByArgument {}
extension Components.Schemas.FilteringPolicy.VirusModePayload: ExpressibleByArgument {}
extension Components.Schemas.FilteringPolicy.OnScannerFailurePayload: ExpressibleByArgument {}
