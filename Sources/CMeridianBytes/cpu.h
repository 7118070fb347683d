// What the processor can do, asked once.
#ifndef C_MERIDIAN_BYTES_CPU_H
#define C_MERIDIAN_BYTES_CPU_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#define MERIDIAN_X86 1
#include <cpuid.h>

#include "CMeridianBytes.h"

// The MERIDIAN_VECTORS_ flags this processor has. SSSE3 (PSHUFB) with POPCNT: every x86-64 processor of the last
// fifteen years. AVX-512 F, BW and VBMI2 (VPCOMPRESSB) with BMI1 and BMI2, and the system saving ZMM registers.
static inline int meridian_cpu_features(void) {
    static int known = -1;  // threads that ask at once all write the same answer
    int features = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (features >= 0) return features;
    features = 0;
    unsigned eax, ebx, ecx, edx;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        if ((ecx & bit_SSSE3) && (ecx & bit_POPCNT)) features |= MERIDIAN_VECTORS_SSSE3;
        bool saves_zmm = false;
        if (ecx & bit_OSXSAVE) {
            unsigned low, high;
            __asm__("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
            saves_zmm = (low & 0xE6) == 0xE6;  // SSE, AVX, opmask, upper ZMM halves, ZMM16-31
        }
        if (saves_zmm && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)
            && (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ecx & bit_AVX512VBMI2) && (ebx & bit_BMI) && (ebx & bit_BMI2)) {
            features |= MERIDIAN_VECTORS_AVX512;
        }
    }
    // MERIDIAN_VECTORS=ssse3 or =none keeps the loops to fewer instructions than the processor has: to compare, or
    // where a machine's AVX-512 is slower than it says.
    const char *limit = getenv("MERIDIAN_VECTORS");
    if (limit && strcmp(limit, "ssse3") == 0) features &= MERIDIAN_VECTORS_SSSE3;
    if (limit && strcmp(limit, "none") == 0) features = 0;
    __atomic_store_n(&known, features, __ATOMIC_RELAXED);
    return features;
}
#else
#define MERIDIAN_X86 0
#endif

#endif
