import Foundation
import MeridianCore

/// The announcement of a new sub-processor to one customer with a DPA: an e-mail and a webhook event, both
/// saying what the entry does, where, from when, and how to object before it takes effect.
enum SubProcessorNotice {
    static let eventType = "subprocessor.announced"

    static func notifications(for entry: SubProcessor, to customers: [CustomerContact], service: ServiceProfile, at date: Date) -> [Notification] {
        customers.flatMap { customer in
            [
                Notification(
                    id: ResourceID.make(prefix: "ntf", at: date), customerID: customer.id, channel: .email, eventType: eventType,
                    subject: "New sub-processor: \(entry.name), from \(CalendarDay(containing: entry.effectiveFrom))", body: text(entry, customer, service),
                    createdAt: date),
                Notification(
                    id: ResourceID.make(prefix: "ntf", at: date), customerID: customer.id, channel: .webhook, eventType: eventType,
                    subject: "New sub-processor: \(entry.name)", body: event(entry, customer, at: date), createdAt: date),
            ]
        }
    }

    static func text(_ entry: SubProcessor, _ customer: CustomerContact, _ service: ServiceProfile) -> String {
        """
        Hello \(customer.name),

        Under our data processing agreement we tell you before a new sub-processor starts processing your data.

        Sub-processor:   \(entry.name) (\(entry.legalEntity))
        Purpose:         \(entry.purpose)
        Data:            \(entry.dataCategories.joined(separator: ", "))
        Regions:         \(entry.regions.map(\.rawValue).joined(separator: ", ")) (\(entry.locations.joined(separator: "; ")))
        Transfers:       \(entry.transferMechanism)
        Processing step: \(entry.steps.map(\.rawValue).joined(separator: ", "))
        Takes effect:    \(ISOTime.string(entry.effectiveFrom))

        You may object until then: POST /v1/customers/\(customer.id)/objections with {"subprocessor_id": "\(entry.id)", "reason": "..."},
        or write to \(service.dpo.email). For a step that can be left out (such as content analysis) we then do not run it for you.

        The registry: https://\(service.dnsZone)/subprocessors

        \(service.controller.name)
        """
    }

    static func event(_ entry: SubProcessor, _ customer: CustomerContact, at date: Date) -> String {
        let event: [String: Any] = [
            "type": eventType,
            "timestamp": ISOTime.string(date),
            "data": [
                "customer_id": customer.id, "subprocessor_id": entry.id, "name": entry.name, "legal_entity": entry.legalEntity,
                "purpose": entry.purpose, "regions": entry.regions.map(\.rawValue), "steps": entry.steps.map(\.rawValue),
                "effective_from": ISOTime.string(entry.effectiveFrom),
                "objections_url": "/v1/customers/\(customer.id)/objections",
            ] as [String: Any],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

}
