// What the processor can do, for callers in Swift. See cpu.h.
#include "CMeridianBytes.h"
#include "cpu.h"

bool meridian_vectors_available(int vectors) {
#if MERIDIAN_X86
    return (meridian_cpu_features() & vectors) == vectors;
#else
    return vectors == MERIDIAN_VECTORS_NONE;
#endif
}
