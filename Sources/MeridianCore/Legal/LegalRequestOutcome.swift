import Foundation

public enum LegalRequestOutcome: String, Sendable, CaseIterable, Codable {
    case pending, complied, partiallyComplied = "partially_complied", rejected, challenged, withdrawn
}
