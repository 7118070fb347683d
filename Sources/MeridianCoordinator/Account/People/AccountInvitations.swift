import Foundation
import MeridianCore
import MeridianServer

/// Invites people to an account, from the admin API (an operator, or the customer's own token) or from the
/// dashboard (an owner). The link is shown once to whoever invited and e-mailed to the invitee through the
/// outbox, sealed while it waits there; the database keeps only the SHA-256 of its token.
struct AccountInvitations: Sendable {
    let people: AccountPeople
    let secrets: SecretBox
    /// The base of the link (``CoordinatorConfiguration/pagesURL``).
    let pagesURL: String
    let now: @Sendable () -> Date

    func invite(_ text: String, as role: AccountUser.Role, to customer: CustomerRecord, by actor: AuditActor) async throws -> (AccountInvitation, link: String) {
        guard let address = EmailAddress(text.trimmingCharacters(in: .whitespaces)) else {
            throw Problem.invalid("email", "\"\(text)\" is not a valid e-mail address (expected local@domain.tld)")
        }
        let email = address.description.lowercased()
        guard customer.status == .active else { throw Problem.conflict("the account is closed; reopen it before inviting people") }
        if try await people.user(email: email) != nil { throw Problem.conflict("\(email) already signs in to a Meridian account", field: "email") }
        let date = now()
        let token = Base64URL.random(bytes: 32)
        let link = "\(pagesURL)/account/invitations/\(token)"
        let invitation = AccountInvitation(
            id: ResourceID.make(prefix: "inv", at: date), customerID: customer.id, email: email, role: role, invitedBy: actor.id, createdAt: date,
            expiresAt: date.addingTimeInterval(AccountInvitation.lifetime))
        let body = """
            You are invited to sign in to the Meridian account "\(customer.name)" as \(role == .owner ? "an owner" : "a member").

            Choose your password here (the link works once, until \(ISOTime.string(invitation.expiresAt))):
            \(link)

            If you did not expect this, ignore this message: nothing happens until the link is used.
            """
        let notice = Notification(
            id: ResourceID.make(prefix: "ntf", at: date), customerID: customer.id, channel: .email, eventType: "account.invitation", recipient: email,
            subject: "Your invitation to Meridian", body: try secrets.seal(body), bodySealed: true, createdAt: date)
        try await people.invite(invitation, tokenHash: AccountSecrets.digest(token), notice: notice, by: actor)
        return (invitation, link)
    }
}
