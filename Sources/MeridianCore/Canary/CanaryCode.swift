/// The statements of a CanaryTail-style warrant canary: each code, when present, says that the issuer has not
/// received or been subject to that kind of event.
public enum CanaryCode: String, Sendable, CaseIterable, Codable, Hashable {
    case warrants = "WAR"
    case gagOrders = "GAG"
    case subpoenas = "SUBP"
    case trapAndTrace = "TRAP"
    case ceaseOrders = "CEASE"
    case duress = "DURESS"
    case raids = "RAID"
    case seizures = "SEIZE"
    case credentialsCompromised = "XCRED"
    case operationsCompromised = "XOPERS"

    /// The sentence the canary states while the code is asserted.
    public var statement: String {
        switch self {
        case .warrants: "We have not received any warrants."
        case .gagOrders: "We have not been subject to any gag orders."
        case .subpoenas: "We have not received any subpoenas."
        case .trapAndTrace: "We have not received any trap and trace orders."
        case .ceaseOrders: "We have not received any court orders to cease operations."
        case .duress: "We are not acting under duress or coercion."
        case .raids: "We have not been raided."
        case .seizures: "No hardware or data of ours has been seized."
        case .credentialsCompromised: "We have not been asked to hand over our credentials or keys."
        case .operationsCompromised: "We have not been ordered to alter our operations or systems."
        }
    }
}
