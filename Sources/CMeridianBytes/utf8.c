// UTF-8 validation, 16 bytes a step. See CMeridianBytes.h.
#include "CMeridianBytes.h"
#include "cpu.h"

#include <string.h>

// Byte at a time, for processors without SSSE3: a state machine with no branches (`meridian_utf8_step`, a "shift-based
// DFA"); text mixing two- and three-byte characters mispredicts a branchy check every few bytes.
enum { ACCEPT, REJECT, ONE_DUE, TWO_DUE, AFTER_E0, AFTER_ED, THREE_DUE, AFTER_F0, AFTER_F4, STATES };

/// RFC 3629's table of well-formed sequences, one byte at a time.
static int utf8_next(int state, unsigned byte) {
    bool continuation = byte >= 0x80 && byte <= 0xBF;
    switch (state) {
    case ACCEPT:
        if (byte <= 0x7F) return ACCEPT;
        if (byte >= 0xC2 && byte <= 0xDF) return ONE_DUE;
        if (byte == 0xE0) return AFTER_E0;
        if (byte == 0xED) return AFTER_ED;
        if (byte >= 0xE1 && byte <= 0xEF) return TWO_DUE;
        if (byte == 0xF0) return AFTER_F0;
        if (byte >= 0xF1 && byte <= 0xF3) return THREE_DUE;
        if (byte == 0xF4) return AFTER_F4;
        return REJECT;  // a continuation byte with no lead, C0, C1, F5 to FF
    case ONE_DUE: return continuation ? ACCEPT : REJECT;
    case TWO_DUE: return continuation ? ONE_DUE : REJECT;
    case AFTER_E0: return byte >= 0xA0 && byte <= 0xBF ? ONE_DUE : REJECT;
    case AFTER_ED: return byte >= 0x80 && byte <= 0x9F ? ONE_DUE : REJECT;
    case THREE_DUE: return continuation ? TWO_DUE : REJECT;
    case AFTER_F0: return byte >= 0x90 && byte <= 0xBF ? TWO_DUE : REJECT;
    case AFTER_F4: return byte >= 0x80 && byte <= 0x8F ? TWO_DUE : REJECT;
    default: return REJECT;
    }
}

uint64_t meridian_utf8_rows[256];

__attribute__((constructor)) static void make_utf8_rows(void) {
    for (unsigned byte = 0; byte < 256; byte++) {
        uint64_t row = 0;
        for (int state = 0; state < STATES; state++) row |= (uint64_t)(utf8_next(state, byte) * 6) << (state * 6);
        meridian_utf8_rows[byte] = row;
    }
}

static bool utf8_valid_bytewise(const uint8_t *bytes, intptr_t count) {
    uint64_t state = ACCEPT * 6;
    intptr_t index = 0;
    while (index < count) {
        // Eight bytes of ASCII where no sequence is open.
        if (state == ACCEPT * 6 && index + 8 <= count) {
            uint64_t word;
            memcpy(&word, bytes + index, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                index += 8;
                continue;
            }
        }
        state = meridian_utf8_step(state, bytes[index]);
        if (state == REJECT * 6) return false;
        index += 1;
    }
    return state == ACCEPT * 6;
}

#if MERIDIAN_X86
#include <immintrin.h>

// The error each pair of bytes (the one before, this one) can show, as one bit each. A pair is wrong when the three
// lookups below (the byte before's high nibble, its low nibble, this byte's high nibble) share a bit.
enum {
    TOO_SHORT = 1 << 0,       // a lead, then no continuation byte
    TOO_LONG = 1 << 1,        // ASCII, then a continuation byte
    OVERLONG_3 = 1 << 2,      // E0 80..9F
    TOO_LARGE = 1 << 3,       // F4 90..BF, F5..FF then a continuation byte
    SURROGATE = 1 << 4,       // ED A0..BF
    OVERLONG_2 = 1 << 5,      // C0, C1 then a continuation byte
    TOO_LARGE_1000 = 1 << 6,  // F5..FF 80..8F
    OVERLONG_4 = 1 << 6,      // F0 80..8F
    TWO_CONTINUATIONS = 1 << 7,  // right only as a sequence's third or fourth byte, which is checked apart
};

#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTINUATIONS)  // errors that do not depend on the low nibble

static const uint8_t before_high_table[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
    TWO_CONTINUATIONS, TWO_CONTINUATIONS, TWO_CONTINUATIONS, TWO_CONTINUATIONS,
    TOO_SHORT | OVERLONG_2,
    TOO_SHORT,
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
};
static const uint8_t before_low_table[16] = {
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
    CARRY | OVERLONG_2,
    CARRY, CARRY,
    CARRY | TOO_LARGE,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
};
static const uint8_t this_high_table[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | OVERLONG_3 | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | SURROGATE | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTINUATIONS | SURROGATE | TOO_LARGE,
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};

__attribute__((target("ssse3")))
static inline __m128i lookup(const uint8_t table[16], __m128i nibbles) {
    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)table), nibbles);
}

__attribute__((target("ssse3")))
static inline __m128i utf8_pair_errors(__m128i input, __m128i prev1) {
    const __m128i nibble = _mm_set1_epi8(0x0F);
    __m128i before_high = lookup(before_high_table, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble));
    __m128i before_low = lookup(before_low_table, _mm_and_si128(prev1, nibble));
    __m128i this_high = lookup(this_high_table, _mm_and_si128(_mm_srli_epi16(input, 4), nibble));
    return _mm_and_si128(_mm_and_si128(before_high, before_low), this_high);
}

/// The errors of one block, given the block before it (zeros before the first).
__attribute__((target("ssse3")))
static inline __m128i utf8_block_errors(__m128i input, __m128i previous) {
    __m128i prev1 = _mm_alignr_epi8(input, previous, 15);
    __m128i prev2 = _mm_alignr_epi8(input, previous, 14);
    __m128i prev3 = _mm_alignr_epi8(input, previous, 13);
    __m128i pairs = utf8_pair_errors(input, prev1);
    // Two bytes after a lead of three or four bytes, or three after one of four, a continuation byte is due: there
    // two continuations in a row are right, and anything else wrong. The high bit says so (saturating subtraction).
    __m128i third = _mm_subs_epu8(prev2, _mm_set1_epi8((char)(0xE0 - 0x80)));
    __m128i fourth = _mm_subs_epu8(prev3, _mm_set1_epi8((char)(0xF0 - 0x80)));
    __m128i due = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
    return _mm_xor_si128(pairs, due);
}

/// Non-zero where the block's last bytes start a sequence it does not finish.
__attribute__((target("ssse3")))
static inline __m128i utf8_unfinished(__m128i input) {
    const __m128i limits = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                         (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    return _mm_subs_epu8(input, limits);
}

__attribute__((target("ssse3")))
static bool utf8_valid_ssse3(const uint8_t *bytes, intptr_t count) {
    __m128i errors = _mm_setzero_si128();
    __m128i previous = _mm_setzero_si128();
    __m128i unfinished = _mm_setzero_si128();
    intptr_t index = 0;
    for (; index + 16 <= count; index += 16) {
        __m128i input = _mm_loadu_si128((const __m128i *)(bytes + index));
        if (_mm_movemask_epi8(input) == 0) {
            // ASCII: right unless the block before left a sequence open.
            errors = _mm_or_si128(errors, unfinished);
        } else {
            errors = _mm_or_si128(errors, utf8_block_errors(input, previous));
            unfinished = utf8_unfinished(input);
        }
        previous = input;
    }
    if (index < count) {
        // The last bytes, behind zeros (ASCII, which ends nothing that is open: a sequence cut short is found).
        uint8_t last[16] = {0};
        memcpy(last, bytes + index, (size_t)(count - index));
        __m128i input = _mm_loadu_si128((const __m128i *)last);
        errors = _mm_or_si128(errors, utf8_block_errors(input, previous));
    } else {
        errors = _mm_or_si128(errors, unfinished);
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(errors, _mm_setzero_si128())) == 0xFFFF;
}

#define AVX512 __attribute__((target("avx512f,avx512bw")))

AVX512 static inline __m512i lookup64(const uint8_t table[16], __m512i nibbles) {
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)table)), nibbles);
}

/// The block shifted by `n` bytes towards its end, the last bytes of the block before coming in at the start.
#define BYTES_BEFORE(input, previous, n) \
    _mm512_alignr_epi8((input), _mm512_alignr_epi64((input), (previous), 6), 16 - (n))

/// ``utf8_block_errors`` on 64 bytes (PSHUFB looks up within each 16-byte lane, where the tables are repeated).
AVX512 static inline __m512i utf8_block_errors64(__m512i input, __m512i previous) {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    __m512i prev1 = BYTES_BEFORE(input, previous, 1);
    __m512i before_high = lookup64(before_high_table, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), nibble));
    __m512i before_low = lookup64(before_low_table, _mm512_and_si512(prev1, nibble));
    __m512i this_high = lookup64(this_high_table, _mm512_and_si512(_mm512_srli_epi16(input, 4), nibble));
    __m512i pairs = _mm512_and_si512(_mm512_and_si512(before_high, before_low), this_high);
    __m512i third = _mm512_subs_epu8(BYTES_BEFORE(input, previous, 2), _mm512_set1_epi8((char)(0xE0 - 0x80)));
    __m512i fourth = _mm512_subs_epu8(BYTES_BEFORE(input, previous, 3), _mm512_set1_epi8((char)(0xF0 - 0x80)));
    __m512i due = _mm512_and_si512(_mm512_or_si512(third, fourth), _mm512_set1_epi8((char)0x80));
    return _mm512_xor_si512(pairs, due);
}

static const uint8_t unfinished_limits64[64] = {
    [0 ... 60] = 0xFF, [61] = 0xF0 - 1, [62] = 0xE0 - 1, [63] = 0xC0 - 1,
};

AVX512 static bool utf8_valid_avx512(const uint8_t *bytes, intptr_t count) {
    __m512i errors = _mm512_setzero_si512();
    __m512i previous = _mm512_setzero_si512();
    __m512i unfinished = _mm512_setzero_si512();
    const __m512i limits = _mm512_loadu_si512(unfinished_limits64);
    intptr_t index = 0;
    for (; index + 64 <= count; index += 64) {
        __m512i input = _mm512_loadu_si512(bytes + index);
        if (_mm512_movepi8_mask(input) == 0) {
            errors = _mm512_or_si512(errors, unfinished);
        } else {
            errors = _mm512_or_si512(errors, utf8_block_errors64(input, previous));
            unfinished = _mm512_subs_epu8(input, limits);
        }
        previous = input;
    }
    if (index < count) {
        // The last bytes, behind zeros, as in the 16-byte loop.
        __m512i input = _mm512_maskz_loadu_epi8(~0ULL >> (64 - (count - index)), bytes + index);
        errors = _mm512_or_si512(errors, utf8_block_errors64(input, previous));
    } else {
        errors = _mm512_or_si512(errors, unfinished);
    }
    return _mm512_test_epi8_mask(errors, errors) == 0;
}
#endif

bool meridian_utf8_valid_using(const uint8_t *bytes, intptr_t count, int vectors) {
#if MERIDIAN_X86
    int features = meridian_cpu_features() & vectors;
    if (features & MERIDIAN_VECTORS_AVX512) return utf8_valid_avx512(bytes, count);
    if (features & MERIDIAN_VECTORS_SSSE3) return utf8_valid_ssse3(bytes, count);
#else
    (void)vectors;
#endif
    return utf8_valid_bytewise(bytes, count);
}
