import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// The account's people: who signs in, with which role and whether they use a second factor, and the open
/// invitations. Owners invite and remove; members see the list.
extension AccountPage {
    func registerPeople(on router: Router<CoordinatorRequestContext>) {
        router.get("/account/people") { request, _ in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let notice = try await sessions.takeNotice(signedIn.session)
            let users = try await people.users(signedIn.customer.id)
            let open = try await people.openInvitations(signedIn.customer.id, at: now())
            let isOwner = signedIn.user.role == .owner
            return page(
                "account-people",
                PeopleView(
                    nav: AccountNav(signedIn, current: .people), notice: notice, csrf: signedIn.session.csrf, isOwner: isOwner,
                    users: users.map { user in
                        .init(
                            id: user.id, name: user.name, email: user.email, role: user.role.rawValue, secondFactor: user.hasSecondFactor ? "on" : "off",
                            joined: ISOTime.string(user.createdAt), removable: isOwner && user.id != signedIn.user.id)
                    },
                    invitations: open.map { .init(email: $0.email, role: $0.role.rawValue, expires: ISOTime.string($0.expiresAt)) },
                    hasInvitations: !open.isEmpty))
        }
        router.post("/account/people/invite") { request, context in
            try await change(InviteForm.self, request, context, back: "/account/people", ownersOnly: true) { signedIn, form, actor in
                guard let role = AccountUser.Role(rawValue: form.role ?? "member") else {
                    return .init(text: "The role must be owner or member.", isError: true)
                }
                let (invitation, link) = try await invitations.invite(form.email ?? "", as: role, to: signedIn.customer, by: actor)
                return .init(
                    text: "Invitation e-mailed to \(invitation.email). The link, which works once until \(ISOTime.string(invitation.expiresAt)): \(link)",
                    isError: false)
            }
        }
        router.post("/account/people/{user}/remove") { request, context in
            let id = try context.parameters.require("user")
            return try await change(PlainForm.self, request, context, back: "/account/people", ownersOnly: true) { signedIn, _, actor in
                guard id != signedIn.user.id else { return .init(text: "You cannot remove yourself; ask another owner.", isError: true) }
                try await people.remove(id, of: signedIn.customer.id, at: now(), by: actor)
                return .init(text: "Removed; their sessions have ended.", isError: false)
            }
        }
    }
}

/// `Templates/account-people.mustache`.
struct PeopleView {
    struct User {
        var id: String
        var name: String
        var email: String
        var role: String
        var secondFactor: String
        var joined: String
        var removable: Bool
    }

    struct Invitation {
        var email: String
        var role: String
        var expires: String
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var csrf: String
    var isOwner: Bool
    var users: [User]
    var invitations: [Invitation]
    /// Stored, not computed: the templates see stored properties only.
    var hasInvitations: Bool
}
