import Foundation

/// A command line that could not be parsed, with the reply that says why.
public struct SMTPCommandError: Error, Hashable {
    public let reply: SMTPReply
    init(_ reply: SMTPReply) { self.reply = reply }
}
