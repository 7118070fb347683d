import Foundation
import MeridianCore
import Synchronization
import Testing

@testable import MeridianNode

@Suite("Coordinator replicas: the node goes on to the next that answers")
struct CoordinatorEndpointsTests {
    struct Down: Error {}

    /// Calls `first` with replicas of which only those in `up` answer; returns the URL that answered and every URL tried.
    static func call(_ endpoints: CoordinatorEndpoints, up: Set<String>) async throws -> (String, [String]) {
        let tried = Mutex<[String]>([])
        let (_, url) = try await endpoints.first { url in
            tried.withLock { $0.append(url) }
            guard up.contains(url) else { throw Down() }
        }
        return (url, tried.withLock { $0 })
    }

    @Test func triesInOrderAndStaysWithTheOneThatAnswered() async throws {
        let endpoints = CoordinatorEndpoints(["https://a:8443/", "https://b:8443", "https://c:8443"])
        #expect(endpoints.urls == ["https://a:8443", "https://b:8443", "https://c:8443"], "a trailing slash is dropped")
        #expect(endpoints.answered == nil)
        #expect(try await Self.call(endpoints, up: ["https://a:8443", "https://b:8443"]) == ("https://a:8443", ["https://a:8443"]))
        // a goes away: b answers, and is asked first from then on, even once a is back.
        #expect(try await Self.call(endpoints, up: ["https://b:8443"]) == ("https://b:8443", ["https://a:8443", "https://b:8443"]))
        #expect(try await Self.call(endpoints, up: ["https://a:8443", "https://b:8443"]) == ("https://b:8443", ["https://b:8443"]))
        #expect(endpoints.answered == "https://b:8443")
        // b goes away too: c, then round to a.
        #expect(try await Self.call(endpoints, up: ["https://a:8443"]) == ("https://a:8443", ["https://b:8443", "https://c:8443", "https://a:8443"]))
    }

    @Test func noneAnsweringNamesEveryReplica() async throws {
        let endpoints = CoordinatorEndpoints(["https://a:8443", "https://b:8443"])
        let error = await #expect(throws: NodeError.self) { try await Self.call(endpoints, up: []) }
        #expect(error?.code == .coordinatorUnavailable)
        #expect(error?.reason.contains("https://a:8443") == true && error?.reason.contains("https://b:8443") == true, "\(String(describing: error))")
        #expect(endpoints.answered == nil)
        // With one URL, its own error comes through as it is.
        await #expect(throws: Down.self) { try await Self.call(CoordinatorEndpoints(["https://a:8443"]), up: []) }
    }

    @Test func aFinalErrorStopsTheSearch() async throws {
        let endpoints = CoordinatorEndpoints(["https://a:8443", "https://b:8443"])
        let tried = Mutex(0)
        await #expect(throws: Down.self) {
            _ = try await endpoints.first { _ -> Int in
                tried.withLock { $0 += 1 }
                throw CoordinatorEndpoints.Final(error: Down())
            }
        }
        #expect(tried.withLock { $0 } == 1, "a join token for another coordinator is not tried on the next replica")
    }
}
