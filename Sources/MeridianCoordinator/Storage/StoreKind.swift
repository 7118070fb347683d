import Foundation
import SQLKit

/// Which database engine a store runs on. Queries are written once in SQLKit; only DDL differs.
public enum StoreKind: String, Sendable, CaseIterable {
    case postgres
    case sqlite
}
