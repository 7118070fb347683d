/// An error with a code to act on and a reason written for the person who reads it, in the manner of
/// swift-certificates' `CertificateError`: equality and hashing look at the code only, so code and tests compare
/// `error == CoreError(.signatureInvalid)` or switch on `error.code`, never the text. Each module names its own
/// codes: ``CoreError``, `NodeError`, `CoordinatorError`.
public struct CodedError<Code: RawRepresentable & Hashable & Sendable>: Error, Hashable, Sendable, CustomStringConvertible
where Code.RawValue == String {
    public let code: Code
    /// What went wrong and, where it helps, what to do; this is the description.
    public let reason: String
    /// What a driver or a peer said, for the log only; never shown in an API answer.
    public let underlying: String?
    public let file: String
    public let line: UInt

    public init(_ code: Code, _ reason: String, underlying: String? = nil, file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.reason = reason
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    /// An error with only a code, to compare with: `#expect(throws: CoreError(.directiveExpired))`.
    public init(_ code: Code) {
        self.init(code, code.rawValue)
    }

    public var description: String { reason }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
