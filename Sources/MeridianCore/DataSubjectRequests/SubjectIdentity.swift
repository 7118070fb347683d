import Foundation

/// Whose data a request concerns: a person by e-mail address, or a customer account by its id.
public enum SubjectIdentity: Sendable, Hashable {
    case email(String)
    case customer(String)

    /// Parses an identity; nil for an address that is not one, or an id that is not a customer id.
    public init?(email: String?, customerID: String?) {
        switch (email, customerID) {
        case (let email?, nil):
            guard let mailbox = SMTPMailbox(email.trimmingCharacters(in: .whitespaces)) else { return nil }
            self = .email(mailbox.description.lowercased())
        case (nil, let id?):
            guard id.hasPrefix("cus_"), id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            self = .customer(id)
        default:
            return nil
        }
    }

    public var kind: String {
        switch self {
        case .email: "email"
        case .customer: "customer"
        }
    }

    public var value: String {
        switch self {
        case .email(let address): address
        case .customer(let id): id
        }
    }
}
