import Foundation

/// What a government or law-enforcement authority asked for. The kinds a warrant canary speaks of map to its
/// CanaryTail codes, so that the coordinator can refuse to sign a canary that the legal-request log contradicts.
public enum LegalRequestKind: String, Sendable, CaseIterable, Codable {
    case warrant, gagOrder = "gag_order", subpoena, trapAndTrace = "trap_and_trace", ceaseOrder = "cease_order", raid, seizure
    case credentialDemand = "credential_demand", operationalDemand = "operational_demand", courtOrder = "court_order"
    case preservationRequest = "preservation_request", emergencyRequest = "emergency_request"

    /// The canary code whose "never received" this kind of request makes false, if any.
    public var canaryCode: CanaryCode? {
        switch self {
        case .warrant: .warrants
        case .gagOrder: .gagOrders
        case .subpoena: .subpoenas
        case .trapAndTrace: .trapAndTrace
        case .ceaseOrder: .ceaseOrders
        case .raid: .raids
        case .seizure: .seizures
        case .credentialDemand: .credentialsCompromised
        case .operationalDemand: .operationsCompromised
        case .courtOrder, .preservationRequest, .emergencyRequest: nil
        }
    }
}
