// JSON string escaping, 64 bytes a step. See CMeridianBytes.h.
#include "CMeridianBytes.h"
#include "cpu.h"

#if MERIDIAN_X86
#include <immintrin.h>

/// Writes the escape of one byte that needs one; returns its length.
static inline intptr_t write_escape(uint8_t byte, uint8_t *out) {
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    switch (byte) {
    case '"': case '\\': out[1] = byte; return 2;
    case '\n': out[1] = 'n'; return 2;
    case '\r': out[1] = 'r'; return 2;
    case '\t': out[1] = 't'; return 2;
    default:
        out[1] = 'u', out[2] = '0', out[3] = '0', out[4] = (uint8_t)hex[byte >> 4], out[5] = (uint8_t)hex[byte & 0xF];
        return 6;
    }
}

#define AVX512 __attribute__((target("avx512f,avx512bw,bmi,bmi2,popcnt")))

/// The bytes of `block` that need an escape, and in `short_ones` those whose escape is two bytes long.
AVX512 static inline uint64_t escapes64(__m512i block, uint64_t *short_ones) {
    uint64_t quote = _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8('"'));
    uint64_t backslash = _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8('\\'));
    uint64_t control = _mm512_cmplt_epu8_mask(block, _mm512_set1_epi8(0x20));
    if (short_ones) {
        uint64_t named = _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8('\n'))
            | _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8('\r')) | _mm512_cmpeq_epi8_mask(block, _mm512_set1_epi8('\t'));
        *short_ones = quote | backslash | named;
    }
    return quote | backslash | control;
}

AVX512 static intptr_t escaped_length_avx512(const uint8_t *bytes, intptr_t count) {
    intptr_t length = count;
    for (intptr_t index = 0; index < count; index += 64) {
        uint64_t present = count - index >= 64 ? ~0ULL : ~0ULL >> (64 - (count - index));
        uint64_t short_ones;
        uint64_t escapes = escapes64(_mm512_maskz_loadu_epi8(present, bytes + index), &short_ones) & present;
        length += _mm_popcnt_u64(escapes) + 4 * _mm_popcnt_u64(escapes & ~short_ones);
    }
    return length;
}

/// Copies 64 bytes a step up to the next byte to escape (a masked store of the bytes before it), then escapes that
/// byte alone and loads the next 64 from just after it: text has a line break every 70 bytes or so.
AVX512 static void escape_avx512(const uint8_t *bytes, intptr_t count, uint8_t *out) {
    intptr_t index = 0;
    while (index < count) {
        uint64_t present = count - index >= 64 ? ~0ULL : ~0ULL >> (64 - (count - index));
        __m512i block = _mm512_maskz_loadu_epi8(present, bytes + index);
        uint64_t escapes = escapes64(block, NULL) & present;
        if (escapes == 0) {
            _mm512_mask_storeu_epi8(out, present, block);
            intptr_t step = (intptr_t)_mm_popcnt_u64(present);
            index += step;
            out += step;
            continue;
        }
        intptr_t plain = (intptr_t)__builtin_ctzll(escapes);
        _mm512_mask_storeu_epi8(out, _bzhi_u64(~0ULL, (unsigned)plain), block);
        out += plain;
        index += plain;
        out += write_escape(bytes[index], out);
        index += 1;
    }
}
#endif

intptr_t meridian_json_escaped_length_using(const uint8_t *bytes, intptr_t count, int vectors) {
#if MERIDIAN_X86
    if (meridian_cpu_features() & vectors & MERIDIAN_VECTORS_AVX512) return escaped_length_avx512(bytes, count);
#endif
    (void)bytes, (void)count, (void)vectors;
    return -1;
}

void meridian_json_escape_using(const uint8_t *bytes, intptr_t count, uint8_t *out, int vectors) {
#if MERIDIAN_X86
    if (meridian_cpu_features() & vectors & MERIDIAN_VECTORS_AVX512) escape_avx512(bytes, count, out);
#endif
    (void)bytes, (void)count, (void)out, (void)vectors;
}
