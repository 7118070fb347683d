import Foundation
import MeridianCore

/// Why a verification or a change of a ticket was refused; the API turns each into a problem naming it.
public enum DataSubjectRequestError: Error, Sendable, Equatable {
    case notFound(String)
    case transition(from: DataSubjectRequestState, to: DataSubjectRequestState)
    case alreadyVerified(DataSubjectRequestState)
    case noCodeSent
    case codeExpired(Date)
    case tooManyAttempts
    case wrongCode(attemptsLeft: Int)
    case alreadyExtended
    case closed(DataSubjectRequestState)
}
