import Foundation

public enum SecretBoxError: Error, Sendable {
    case malformed
}
