import CMeridianBytes

/// The vector instructions that the byte loops in C (CMeridianBytes) may use when the processor has them. Production
/// lets them use all; tests try each loop, including the byte-at-a-time one every processor runs.
enum VectorInstructions: CaseIterable {
    case none, ssse3, all

    var flags: Int32 {
        switch self {
        case .none: Int32(MERIDIAN_VECTORS_NONE)
        case .ssse3: Int32(MERIDIAN_VECTORS_SSSE3)
        case .all: Int32(MERIDIAN_VECTORS_ALL)
        }
    }
}
