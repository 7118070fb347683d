import Foundation
import MeridianCore
import SQLiteNIO

/// The journal of erasure receipts (counts and hold reasons, no personal data), so that a directive sent again
/// after a lost receipt still answers what the first pass erased.
extension MetadataStore {
    /// How long an erasure receipt is kept: past GDPR's one month and its two months' extension, so that a
    /// ticket's directive sent again for as long as the ticket can be open finds it.
    static let erasureReceiptPeriod: TimeInterval = 120 * 86_400

    /// The receipt this node gave for an erasure request, if it carried one out.
    ///
    /// A directive is sent again when its receipt did not reach the coordinator (a timeout after the work). The
    /// second pass finds nothing left to erase; with the first receipt kept here, the answer still counts what
    /// the first pass erased.
    public func erasureReceipt(of requestID: String) async throws -> DirectiveReceipt? {
        try await exclusive {
            guard let text = try await connection.query("SELECT receipt FROM erasure_receipts WHERE request_id = ?", [.text(requestID)])
                .first?.column("receipt")?.string
            else { return nil }
            return try JSONLinesFile.decoder.decode(DirectiveReceipt.self, from: Data(text.utf8))
        }
    }

    /// Keeps (or replaces) the receipt of an erasure request.
    public func keepErasureReceipt(_ receipt: DirectiveReceipt) async throws {
        try await exclusive {
            _ = try await connection.query(
                "INSERT INTO erasure_receipts (request_id, at, receipt) VALUES (?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET at = excluded.at, receipt = excluded.receipt",
                [.text(receipt.requestID), .integer(MetadataCoding.millis(receipt.completedAt)),
                 .text(String(decoding: try JSONLinesFile.encoder.encode(receipt), as: UTF8.self))])
        }
    }
}
