// Clean base64 in lines of one length, checked and copied a line in one or two 64-byte steps. See CMeridianBytes.h.
#include "CMeridianBytes.h"
#include "cpu.h"

#if MERIDIAN_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,bmi,bmi2")))

/// The bytes of `block` (of those in `present`) that are base64 digits: `A-Z`, `a-z`, `0-9`, `+` and `/`.
AVX512 static inline uint64_t alphabet64(__m512i block, uint64_t present) {
    uint64_t upper = _mm512_mask_cmplt_epu8_mask(present, _mm512_sub_epi8(block, _mm512_set1_epi8('A')), _mm512_set1_epi8(26));
    uint64_t lower = _mm512_mask_cmplt_epu8_mask(present, _mm512_sub_epi8(block, _mm512_set1_epi8('a')), _mm512_set1_epi8(26));
    uint64_t digit = _mm512_mask_cmplt_epu8_mask(present, _mm512_sub_epi8(block, _mm512_set1_epi8('0')), _mm512_set1_epi8(10));
    uint64_t plus = _mm512_mask_cmpeq_epi8_mask(present, block, _mm512_set1_epi8('+'));
    uint64_t slash = _mm512_mask_cmpeq_epi8_mask(present, block, _mm512_set1_epi8('/'));
    return upper | lower | digit | plus | slash;
}

AVX512 static intptr_t fixed_lines_avx512(const uint8_t *base, intptr_t end, intptr_t length, intptr_t stride, bool crlf) {
    intptr_t line = 0;
    while (line + stride <= end && base[line + stride - 1] == '\n' && (!crlf || base[line + length] == '\r')) {
        for (intptr_t offset = 0; offset < length; offset += 64) {
            uint64_t present = length - offset >= 64 ? ~0ULL : _bzhi_u64(~0ULL, (unsigned)(length - offset));
            if (alphabet64(_mm512_maskz_loadu_epi8(present, base + line + offset), present) != present) return line;
        }
        line += stride;
    }
    return line;
}

AVX512 static void copy_lines_avx512(const uint8_t *base, intptr_t fixed_end, intptr_t length, intptr_t stride, uint8_t *out) {
    for (intptr_t line = 0; line < fixed_end; line += stride, out += length) {
        for (intptr_t offset = 0; offset < length; offset += 64) {
            uint64_t present = length - offset >= 64 ? ~0ULL : _bzhi_u64(~0ULL, (unsigned)(length - offset));
            _mm512_mask_storeu_epi8(out + offset, present, _mm512_maskz_loadu_epi8(present, base + line + offset));
        }
    }
}
#endif

intptr_t meridian_base64_fixed_lines_using(const uint8_t *base, intptr_t end, intptr_t length, intptr_t stride, bool crlf,
                                           int vectors) {
#if MERIDIAN_X86
    if (meridian_cpu_features() & vectors & MERIDIAN_VECTORS_AVX512) return fixed_lines_avx512(base, end, length, stride, crlf);
#endif
    (void)base, (void)end, (void)length, (void)stride, (void)crlf, (void)vectors;
    return -1;
}

bool meridian_base64_copy_lines_using(const uint8_t *base, intptr_t fixed_end, intptr_t length, intptr_t stride, uint8_t *out,
                                      int vectors) {
#if MERIDIAN_X86
    if (meridian_cpu_features() & vectors & MERIDIAN_VECTORS_AVX512) {
        copy_lines_avx512(base, fixed_end, length, stride, out);
        return true;
    }
#endif
    (void)base, (void)fixed_end, (void)length, (void)stride, (void)out, (void)vectors;
    return false;
}
