extension NodeBundle {
    /// The canonical JSON of the bundle: keys sorted, no insignificant whitespace, `/` unescaped, optional
    /// fields left out when absent. The same bytes as `JSONEncoder` with `.sortedKeys` and
    /// `.withoutEscapingSlashes` (a test holds them equal), written directly: a bundle of 100,000 customers is
    /// encoded on every config change, and `JSONEncoder` would take seconds over it.
    public func canonicalJSON() -> [UInt8] {
        var json = JSONWriter(capacity: 256 * customers.count + 64 * elsewhere.count + 512)
        json.beginObject()
        json.key("customers")
        json.beginArray()
        for customer in customers { Self.write(customer, into: &json) }
        json.endArray()
        if let egress { Self.write(egress, into: &json) }
        json.key("elsewhere")
        json.beginArray()
        for entry in elsewhere { Self.write(entry, into: &json) }
        json.endArray()
        if let policy { Self.write(policy, into: &json) }
        json.field("region", region.rawValue)
        if let sealedKey { json.field("sealed_key", sealedKey) }
        Self.write(subprocessors, into: &json)
        json.field("version", version)
        json.endObject()
        return json.bytes
    }

    /// The canonical JSON of one customer's entry, as the bundle holds it.
    public static func canonicalJSON(of customer: Customer) -> [UInt8] {
        var json = JSONWriter(capacity: 512)
        write(customer, into: &json)
        return json.bytes
    }

    /// The canonical JSON of one domain pinned elsewhere, as the bundle holds it.
    public static func canonicalJSON(of entry: PinnedElsewhere) -> [UInt8] {
        var json = JSONWriter(capacity: 128)
        write(entry, into: &json)
        return json.bytes
    }

    static func write(_ customer: Customer, into json: inout JSONWriter) {
        json.beginObject()
        json.field("addresses", strings: customer.addresses)
        json.field("domains", strings: customer.domains)
        if let filtering = customer.filtering {
            json.key("filtering")
            json.beginObject()
            json.field("on_scanner_failure", filtering.onScannerFailure.rawValue)
            json.field("reject_dmarc_failures", filtering.rejectDMARCFailures)
            json.field("spam_mode", filtering.spamMode.rawValue)
            json.field("spam_threshold", filtering.spamThreshold)
            json.field("virus_mode", filtering.virusMode.rawValue)
            json.endObject()
        }
        json.field("id", customer.id)
        json.field("metadata_redactions", strings: customer.metadataRedactions.map(\.rawValue))
        if let region = customer.region { json.field("region", region.rawValue) }
        json.field("steps", strings: customer.steps.map(\.rawValue))
        json.key("webhook")
        json.beginObject()
        if let sealed = customer.webhook.credentialsSealed {
            json.field("credentials_sealed", sealed)
        } else if let credentials = customer.webhook.credentials {
            json.field("credentials", credentials)
        }
        if let events = customer.webhook.eventsURL { json.field("events_url", events) }
        if let format = customer.webhook.format { json.field("format", format.rawValue) }
        json.field("mode", customer.webhook.mode.rawValue)
        if let sealed = customer.webhook.previousSecretSealed {
            json.field("previous_secret_sealed", sealed)
        } else if let previous = customer.webhook.previousSecret {
            json.field("previous_secret", previous)
        }
        if let sealed = customer.webhook.secretSealed {
            json.field("secret_sealed", sealed)
        } else {
            json.field("secret", customer.webhook.secret)
        }
        json.field("url", customer.webhook.url)
        json.endObject()
        json.endObject()
    }

    static func write(_ egress: EgressPolicy, into json: inout JSONWriter) {
        json.key("egress")
        json.beginObject()
        json.field("allow_http", egress.allowHTTP)
        json.field("allow_networks", strings: egress.allowedNetworks.map(\.description))
        json.endObject()
    }

    static func write(_ entry: PinnedElsewhere, into json: inout JSONWriter) {
        json.beginObject()
        json.field("domain", entry.domain)
        json.field("mx_host", entry.mxHost)
        json.field("region", entry.region.rawValue)
        json.endObject()
    }

    static func write(_ policy: Policy, into json: inout JSONWriter) {
        json.key("policy")
        json.beginObject()
        json.field("delivery_logs_seconds", Int(policy.deliveryLogsSeconds))
        json.field("ip_masking_after_seconds", Int(policy.ipMaskingAfterSeconds))
        json.field("ipv4_keep_octets", policy.ipv4KeepOctets)
        json.field("ipv6_keep_hextets", policy.ipv6KeepHextets)
        json.field("message_metadata_seconds", Int(policy.messageMetadataSeconds))
        if let quarantine = policy.quarantineSeconds { json.field("quarantine_seconds", Int(quarantine)) }
        json.field("queue_lifetime_seconds", Int(policy.queueLifetimeSeconds))
        json.field("retry_initial_seconds", Int(policy.retryInitialSeconds))
        json.field("retry_maximum_seconds", Int(policy.retryMaximumSeconds))
        if let logs = policy.smtpProtocolLogsSeconds { json.field("smtp_protocol_logs_seconds", Int(logs)) }
        json.endObject()
    }

    static func write(_ subprocessors: [SubProcessorEntry], into json: inout JSONWriter) {
        json.key("subprocessors")
        json.beginArray()
        for entry in subprocessors {
            json.beginObject()
            json.field("egress_hosts", strings: entry.egressHosts)
            json.field("id", entry.id)
            json.field("name", entry.name)
            json.field("steps", strings: entry.steps.map(\.rawValue))
            json.endObject()
        }
        json.endArray()
    }
}
