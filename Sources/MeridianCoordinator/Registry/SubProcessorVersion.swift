import Foundation
import MeridianCore

/// One version of a registry entry: what it was after a change, who made the change and when.
public struct SubProcessorVersion: Sendable, Hashable {
    public enum Change: String, Sendable { case added, changed, retired }
    public var entry: SubProcessor
    public var change: Change
    public var changedAt: Date
    public var changedBy: String
}
