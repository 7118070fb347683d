/// How long each class of data is kept in a region. Defaults come from the source policies (DESIGN.md).
public struct RetentionPolicy: Sendable, Hashable {
    public var messageMetadata: PolicyDuration
    public var deliveryLogs: PolicyDuration
    public var smtpProtocolLogs: PolicyDuration
    /// Messages held in a customer's quarantine, then deleted (Cleanmail: 14 days).
    public var quarantine: PolicyDuration
    public var backups: PolicyDuration
    public var deletedCustomerBackups: PolicyDuration
    /// How long a closed account is kept for legal reasons before its deletion is scheduled.
    public var closedAccountLegalPeriod: PolicyDuration
    /// How long after the legal period a closed account is deleted; it can be reopened until then.
    public var closedAccountDeletionDelay: PolicyDuration
    /// Financial and billing records, exempt from erasure.
    public var financialRecords: PolicyDuration

    /// The whole time a closed account is kept before the purge: legal period plus deletion delay.
    public var closedAccountPeriod: PolicyDuration { closedAccountLegalPeriod + closedAccountDeletionDelay }
}
