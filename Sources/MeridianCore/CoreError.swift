/// An error of the processing core (``CodedError``): a code to act on, and a reason written for the person who
/// reads it (an operator reading a NACK, a log line or a CLI message).
public typealias CoreError = CodedError<CoreErrorCode>

public enum CoreErrorCode: String, Sendable, CaseIterable {
    /// A config bundle that does not decode: not JSON, a key missing, a value of the wrong type.
    case bundleMalformed
    /// A config bundle that decodes but breaks a rule: a customer twice, a domain claimed twice, a bad webhook.
    case bundleInvalid
    /// A config bundle made for another region than the node's.
    case bundleForAnotherRegion
    /// A config delta made for another version than the one in force: the node needs the snapshot.
    case deltaBaseMismatch
    /// A config bundle whose webhook secrets are sealed to a key the node does not hold.
    case bundleSealedToAnotherKey
    /// A bundle or directive signed by a key other than the one the node trusts.
    case untrustedKey
    /// A signature that does not verify, or a payload or signature that is not base64.
    case signatureInvalid
    /// A data-subject directive that does not decode.
    case directiveMalformed
    /// A data-subject directive past its expiry.
    case directiveExpired
    /// A message of the node protocol that does not decode.
    case protocolMessageMalformed
    /// A file that is not a Meridian backup, or whose header is damaged.
    case backupUnreadable
    /// A backup that does not decrypt with the key given, or was changed after it was written.
    case backupWrongKey
    /// A statement a node signed (a receipt, an ACK or NACK) whose signature, certificate or signer does not hold.
    case nodeSignatureInvalid
}
