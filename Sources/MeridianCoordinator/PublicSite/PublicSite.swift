import Crypto
import Foundation
import Hummingbird
import MeridianCore
import Mustache

/// The public pages (DESIGN.md, "Public"): HTML from the Mustache templates in `Templates/` (``PageTemplates``), JSON, the Atom
/// feed of registry changes and the canary files. Everything comes from the data the nodes enforce: the
/// retention numbers from the newest config version's policies, the registry, the legal-request log. No
/// cookies, no scripts, no requests to anyone else.
///
/// `meridian publish --out DIR` writes ``documents()``, the same bytes the routes serve, as static files.
public struct PublicSite: Sendable {
    let catalog: RegionCatalog
    let registry: SubProcessorRegistry
    let publications: Publications
    let config: ConfigRepository
    let publisher: ConfigPublisher
    let now: @Sendable () -> Date

    static var library: MustacheLibrary { PageTemplates.library }

    /// One file of the site.
    public struct Document: Sendable {
        /// The URL path, such as `/subprocessors.atom`.
        public var path: String
        public var contentType: String
        public var body: Data
    }

    public static let paths = [
        "/", "/privacy", "/privacy.json", "/regions", "/regions.json", "/subprocessors", "/subprocessors.json", "/subprocessors.atom",
        "/transparency", "/transparency.json", "/canary", "/canary.json", "/.well-known/canary.txt", "/.well-known/canary.txt.sig",
        "/.well-known/canary.pub",
    ]

    /// Every document of the site, as now; the canary files only once a canary has been issued.
    public func documents() async throws -> [Document] {
        let snapshot = try await Snapshot.take(self, for: Self.paths)
        return Self.paths.compactMap { snapshot.document($0) }
    }

    public func document(_ path: String) async throws -> Document? {
        guard Self.paths.contains(path) else { return nil }
        return try await Snapshot.take(self, for: [path]).document(path)
    }

    public func register(on router: Router<CoordinatorRequestContext>) {
        for path in Self.paths {
            router.get(RouterPath(path)) { _, _ in
                guard let document = try await self.document(path) else {
                    throw HTTPError(.notFound, message: "no canary has been issued yet")
                }
                return Self.response(document)
            }
        }
    }

    static func response(_ document: Document) -> Response {
        var headers: HTTPFields = [
            .contentType: document.contentType,
            .cacheControl: document.path.contains("canary") ? "public, max-age=60" : "public, max-age=300",
            .init("X-Content-Type-Options")!: "nosniff",
        ]
        if document.contentType.hasPrefix("text/html") {
            headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            headers[.init("Referrer-Policy")!] = "no-referrer"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document.body)))
    }

    /// The DPA annex of one customer, as a standalone HTML document.
    func dpaAnnex(_ dpa: DPARecord, customerName: String, at date: Date) -> String {
        let context: [String: Any] = [
            "customerName": customerName, "customerID": dpa.customerID, "version": dpa.version, "signedOn": dpa.signedOn.description,
            "signatory": dpa.signatory, "documentSHA256": dpa.documentSHA256, "controller": catalog.service.controller.name,
            "recordedAt": CalendarDay(containing: dpa.createdAt).description, "noticeDays": registry.noticeDays, "generatedAt": ISOTime.string(date),
            "annex": dpa.annex.map { Self.row($0, at: dpa.createdAt) },
        ]
        return Self.library.render(context, withTemplate: "dpa-annex") ?? ""
    }

    static func row(_ entry: SubProcessor, at date: Date) -> [String: Any] {
        let state = entry.state(at: date)
        let stateText =
            switch state {
            case .announced: "announced, in force from \(CalendarDay(containing: entry.effectiveFrom))"
            case .inForce: "in force"
            case .retired: "retired"
            }
        var row: [String: Any] = [
            "id": entry.id, "name": entry.name, "legalEntity": entry.legalEntity, "purpose": entry.purpose,
            "dataCategories": entry.dataCategories.joined(separator: ", "), "regions": entry.regions.map(\.rawValue).joined(separator: ", "),
            "locations": entry.locations.joined(separator: "; "), "transferMechanism": entry.transferMechanism, "dpaInPlace": entry.dpaInPlace,
            "steps": entry.steps.map(\.rawValue).joined(separator: ", "), "effectiveFrom": CalendarDay(containing: entry.effectiveFrom).description, "demo": entry.demo,
            "state": state.rawValue,
            "stateText": stateText,
        ]
        if let until = entry.effectiveUntil { row["effectiveUntil"] = CalendarDay(containing: until).description }
        return row
    }
}
