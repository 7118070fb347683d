import Foundation

/// One recipient of a message: the unit of delivery, retry and completion.
public struct DeliveryKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var messageID: String
    public var recipient: Int

    public init(messageID: String, recipient: Int) {
        self.messageID = messageID
        self.recipient = recipient
    }

    public var description: String { "\(messageID)/\(recipient)" }
}
