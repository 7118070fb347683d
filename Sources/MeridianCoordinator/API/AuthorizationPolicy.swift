import MeridianCore

/// Which role may call which operation: the authorization matrix, as data.
///
/// docs/authorization.md renders this table, and a test checks that the two agree and that every operation
/// in docs/openapi.yaml appears here, so an operation cannot be added without deciding who may call it.
public enum AuthorizationPolicy {
    public enum Access: String, Sendable {
        /// The role may call the operation for any account.
        case allowed = "yes"
        /// A customer token, for its own account only.
        case ownAccount = "own account"
        /// Support, only for accounts that gave it an active access grant.
        case withGrant = "with grant"
    }

    /// Operations anyone may call without a token.
    public static let publicOperations: Set<String> = ["getHealth"]

    public static let matrix: [String: [Role: Access]] = [
        "getCaller": [.admin: .allowed, .support: .allowed, .dpo: .allowed, .auditor: .allowed, .security: .allowed, .customer: .allowed],
        // The protocol logs name senders and recipients; only the security role reads them, every read audited.
        "listSMTPProtocolLog": [.security: .allowed],
        "createCustomer": [.admin: .allowed],
        "listCustomers": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "getCustomer": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "updateCustomer": [.admin: .allowed, .customer: .ownAccount],
        "getCustomerRegion": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "setCustomerRegion": [.admin: .allowed, .customer: .ownAccount],
        "getCustomerDNS": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "checkCustomerDNS": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "verifyCustomerDomain": [.admin: .allowed],
        "rotateWebhookSecret": [.admin: .allowed, .customer: .ownAccount],
        "testWebhook": [.admin: .allowed, .customer: .ownAccount],
        "getFilteringPolicy": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "setFilteringPolicy": [.admin: .allowed, .customer: .ownAccount],
        // Held mail is the customer's to look at: support only under the customer's grant, operators not at all.
        "listQuarantine": [.support: .withGrant, .customer: .ownAccount],
        "previewQuarantined": [.support: .withGrant, .customer: .ownAccount],
        "releaseQuarantined": [.support: .withGrant, .customer: .ownAccount],
        "deleteQuarantined": [.support: .withGrant, .customer: .ownAccount],
        "listCustomerMessages": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "getCustomerMessage": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "redeliverMessage": [.admin: .allowed, .support: .withGrant, .customer: .ownAccount],
        "closeCustomer": [.admin: .allowed, .customer: .ownAccount],
        "reopenCustomer": [.admin: .allowed, .customer: .ownAccount],
        "createAccessGrant": [.customer: .ownAccount],
        "listAccessGrants": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed, .support: .allowed, .customer: .ownAccount],
        "revokeAccessGrant": [.admin: .allowed, .customer: .ownAccount],
        // The dashboard's people: the customer's own token or an operator invites; support reads under a grant.
        "createInvitation": [.admin: .allowed, .customer: .ownAccount],
        "listAccountUsers": [.admin: .allowed, .dpo: .allowed, .support: .withGrant, .customer: .ownAccount],
        "removeAccountUser": [.admin: .allowed, .customer: .ownAccount],
        "createToken": [.admin: .allowed],
        "listTokens": [.admin: .allowed],
        "revokeToken": [.admin: .allowed],
        "listNodes": [.admin: .allowed, .support: .allowed, .dpo: .allowed, .auditor: .allowed],
        "forgetNode": [.admin: .allowed],
        "enrollNode": [.admin: .allowed],
        "revokeNode": [.admin: .allowed],
        "createLegalRequest": [.admin: .allowed, .dpo: .allowed],
        "listLegalRequests": [.admin: .allowed, .dpo: .allowed],
        "getLegalRequest": [.admin: .allowed, .dpo: .allowed],
        "updateLegalRequest": [.admin: .allowed, .dpo: .allowed],
        "listAuditEntries": [.admin: .allowed, .auditor: .allowed, .dpo: .allowed],
        "listSubprocessors": [.admin: .allowed, .support: .allowed, .dpo: .allowed, .auditor: .allowed, .customer: .allowed],
        "getSubprocessor": [.admin: .allowed, .support: .allowed, .dpo: .allowed, .auditor: .allowed, .customer: .allowed],
        "createSubprocessor": [.admin: .allowed, .dpo: .allowed],
        "updateSubprocessor": [.admin: .allowed, .dpo: .allowed],
        "listObjections": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed, .support: .withGrant, .customer: .ownAccount],
        "createObjection": [.admin: .allowed, .dpo: .allowed, .customer: .ownAccount],
        "withdrawObjection": [.admin: .allowed, .dpo: .allowed, .customer: .ownAccount],
        "getDPA": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed, .support: .withGrant, .customer: .ownAccount],
        "getDPAAnnex": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed, .support: .withGrant, .customer: .ownAccount],
        "recordDPA": [.admin: .allowed, .dpo: .allowed],
        "listNotifications": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
        "listTransparencyReports": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
        "freezeTransparencyReport": [.admin: .allowed, .dpo: .allowed],
        "getCanary": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
        "issueCanary": [.admin: .allowed, .dpo: .allowed],
        "createGdprRequest": [.admin: .allowed, .dpo: .allowed],
        "listGdprRequests": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
        "getGdprRequest": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
        "updateGdprRequest": [.admin: .allowed, .dpo: .allowed],
        "verifyGdprRequest": [.admin: .allowed, .dpo: .allowed],
        "extendGdprRequest": [.admin: .allowed, .dpo: .allowed],
        // The subject's data itself: only the dpo handles it.
        "exportGdprRequest": [.dpo: .allowed],
        "getGdprReceipts": [.admin: .allowed, .dpo: .allowed, .auditor: .allowed],
    ]

    public static func access(_ role: Role, to operationID: String) -> Access? {
        matrix[operationID]?[role]
    }
}
