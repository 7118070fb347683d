import ArgumentParser
import Foundation

/// One executable for every role, HashiCorp-style: `meridian up`, `meridian coordinator`, and admin
/// subcommands that talk to the coordinator's API.
@main
struct Meridian: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meridian",
        abstract: "Inbound e-mail with enforced privacy promises: coordinator, regional nodes and admin tools.",
        subcommands: [
            Up.self, CoordinatorCommand.self, NodeCommand.self, Customers.self, Tokens.self, Audit.self, MessageCommand.self, Nodes.self,
            MessagesCommand.self, QuarantineCommand.self, SMTPLogCommand.self, LegalRequests.self, Subprocessors.self, Objections.self, DPACommand.self, Canary.self, Transparency.self, Publish.self, GDPR.self,
            BackupCommand.self,
        ]
    )

    /// Every file and directory the process makes is its owner's alone (umask 077): keys, tokens, bundles
    /// holding webhook secrets, the spool, the databases, backups and exports hold personal data or secrets.
    static func main() async {
        umask(0o077)
        await main(nil)
    }
}
