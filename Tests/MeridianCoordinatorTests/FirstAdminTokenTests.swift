import Foundation
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("The first admin token: made when no admin token is active, expiring unless replaced")
struct FirstAdminTokenTests {
    @Test("exploit: the first admin token no longer lasts for ever; a start with no active admin makes a new one", arguments: StoreKind.allCases)
    func expiry(kind: StoreKind) async throws {
        // Before, the token printed at the first start (and kept in DATA-DIR/admin-token) never expired.
        try await TestStores.withStore(kind) { store in
            let clock = TestClock()
            let coordinator = try await TestStores.coordinator(store, clock: clock)
            defer { try? FileManager.default.removeItem(atPath: coordinator.configuration.dataDirectory) }
            let first = try #require(try await coordinator.bootstrapAdminToken())
            let record = try #require(try await coordinator.tokens.find(secretHash: first.hash))
            #expect(record.expiresAt == clock.now.addingTimeInterval(72 * 3600) && record.isActive(at: clock.now))
            #expect(try await coordinator.bootstrapAdminToken() == nil, "an admin token is active")
            clock.advance(days: 3.01)
            #expect(!record.isActive(at: clock.now))
            let second = try #require(try await coordinator.bootstrapAdminToken(), "none is active: a restart lets the operator in again")
            #expect(second.secret != first.secret)
            // Its services never ran: close what they would have (its HTTP client).
            await coordinator.close()
        }
    }
}
