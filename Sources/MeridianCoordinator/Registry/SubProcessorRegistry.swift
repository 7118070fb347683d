import MeridianCore

/// The registry's repositories, with the notice period a new entry waits before it takes effect.
public struct SubProcessorRegistry: Sendable {
    public let subprocessors: SubProcessorRepository
    public let objections: ObjectionRepository
    public let dpas: DPARepository
    public let outbox: NotificationOutbox
    /// GDPR Art. 28(2): customers hear of a new sub-processor this many days before it starts.
    public let noticeDays: Int

    public init(store: any SQLStore, noticeDays: Int = 30, bell: ReplicaBell? = nil) {
        subprocessors = SubProcessorRepository(store: store, bell: bell)
        objections = ObjectionRepository(store: store)
        dpas = DPARepository(store: store)
        outbox = NotificationOutbox(store: store)
        self.noticeDays = noticeDays
    }
}
