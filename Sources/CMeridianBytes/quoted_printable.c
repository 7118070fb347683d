// Quoted-printable decoding, 64 bytes a step. See CMeridianBytes.h; the rules are RFC 2045 section 6.7, as
// TransferEncoding.decodeQuotedPrintable in MeridianCore applies them a byte at a time.
#include "CMeridianBytes.h"
#include "cpu.h"

#if MERIDIAN_X86
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi2,bmi,popcnt")))

/// Each byte's value as a hex digit (either case), zero where it is none; `valid` says where it is one.
AVX512 static inline __m512i hex_values(__m512i bytes, __mmask64 *valid) {
    __m512i digit = _mm512_sub_epi8(bytes, _mm512_set1_epi8('0'));
    __m512i letter = _mm512_sub_epi8(_mm512_or_si512(bytes, _mm512_set1_epi8(0x20)), _mm512_set1_epi8('a'));
    __mmask64 is_digit = _mm512_cmple_epu8_mask(digit, _mm512_set1_epi8(9));
    __mmask64 is_letter = _mm512_cmple_epu8_mask(letter, _mm512_set1_epi8(5));
    *valid = is_digit | is_letter;
    return _mm512_mask_mov_epi8(_mm512_maskz_add_epi8(is_letter, letter, _mm512_set1_epi8(10)), is_digit, digit);
}

AVX512 static inline uint64_t bytes_equal(__m512i bytes, char byte) {
    return _mm512_cmpeq_epi8_mask(bytes, _mm512_set1_epi8(byte));
}

/// Bits 64 and 65 of `mask << by`, which a 64-bit shift loses, as bits 0 and 1: the next block's first two bytes.
static inline uint64_t beyond(uint64_t mask, int by) { return mask >> (64 - by); }

AVX512 static void qp_decode_avx512(const uint8_t *base, intptr_t end, uint8_t *out, bool line_feeds,
                                    meridian_qp_position *position) {
    intptr_t input = position->input, output = position->output, kept = position->kept;
    // An escape or a break that starts in a block's last two bytes is decoded whole in that block. Its bytes in the
    // next block are `carried`: not the start of anything there, and of no output but the LF of a CRLF kept as it came
    // (`carried_kept`). So a step moves on by 64 whatever it found, and the next step's loads need not wait for this
    // one's masks.
    uint64_t carried = 0, carried_kept = 0;
    // With `line_feeds`, an LF alone drops a CR just before it in the output. This loop writes no such CR, but the
    // byte loop may have: then the next LF is the byte loop's to judge.
    if (line_feeds && output > 0 && out[output - 1] == '\r') return;
    // A step reads two bytes past its 64: the rest of an escape or a soft break that starts in the last two.
    while (input + 66 <= end) {
        const uint8_t *at = base + input;
        __m512i bytes = _mm512_loadu_si512(at);
        uint64_t equals = bytes_equal(bytes, '=');
        uint64_t crs = bytes_equal(bytes, '\r') & ~carried, lfs = bytes_equal(bytes, '\n') & ~carried;
        if ((equals | crs | lfs | carried) == 0) {
            _mm512_storeu_si512(out + output, bytes);
            input += 64;
            output += 64;
            continue;
        }
        // Masks of where each kind of thing starts; bit n is the block's byte n.
        __m512i next = _mm512_loadu_si512(at + 1);
        __m512i after = _mm512_loadu_si512(at + 2);
        __mmask64 high_valid, low_valid;
        __m512i high = hex_values(next, &high_valid), low = hex_values(after, &low_valid);
        uint64_t escapes = equals & high_valid & low_valid;
        __m512i decoded = _mm512_or_si512(_mm512_slli_epi16(high, 4), low);  // a digit's value is below 16
        uint64_t next_lf = bytes_equal(next, '\n');
        uint64_t soft3 = equals & bytes_equal(next, '\r') & bytes_equal(after, '\n');  // = CR LF
        uint64_t soft2 = equals & next_lf;                                              // = LF
        uint64_t crlf = crs & next_lf & ~(soft3 << 1);
        uint64_t bare_lf = lfs & ~(crlf << 1) & ~(soft3 << 2) & ~(soft2 << 1);
        uint64_t blanks = bytes_equal(bytes, ' ') | bytes_equal(bytes, '\t');
        uint64_t blank_before = blanks << 1 | (input > 0 && (at[-1] == ' ' || at[-1] == '\t'));
        uint64_t decoded_breaks = (bytes_equal(decoded, '\r') | bytes_equal(decoded, '\n')) & escapes;

        // What the byte loop must do: an `=` that is neither escape nor plain soft break, an escape of CR or LF, a
        // CR alone, and a hard break after a blank (blanks are trimmed there).
        uint64_t unsupported = (equals & ~escapes & ~soft3 & ~soft2) | decoded_breaks
            | (crs & ~next_lf & ~(soft3 << 1)) | ((crlf | bare_lf) & blank_before);
        uint64_t within = ~0ULL;
        if (__builtin_expect(unsupported != 0, 0)) {
            // Decode the bytes before it (none of their escapes and breaks reaches it) and stop there.
            within = _blsmsk_u64(unsupported) >> 1;
            escapes &= within, soft3 &= within, soft2 &= within, crlf &= within, bare_lf &= within;
            if (within == 0 && carried == 0) break;
        }

        // Bytes that give no output: an escape's digits, a soft break, and with `line_feeds` the LF of a CRLF, whose
        // CR becomes that LF.
        uint64_t dropped = escapes << 1 | escapes << 2 | soft3 | soft3 << 1 | soft3 << 2 | soft2 | soft2 << 1
            | (line_feeds ? crlf << 1 : 0);
        uint64_t keep = (~dropped & within & ~carried) | carried_kept;
        __m512i values = _mm512_mask_mov_epi8(bytes, escapes, decoded);
        if (line_feeds) values = _mm512_mask_mov_epi8(values, crlf, _mm512_set1_epi8('\n'));
        _mm512_storeu_si512(out + output, _mm512_maskz_compress_epi8(keep, values));

        // The output after an escape or a break is not trailing whitespace.
        uint64_t ends = ((escapes | soft3) << 2 | (soft2 | crlf) << 1 | bare_lf) & within;
        ends |= carried & ~(carried >> 1);
        if (ends) kept = output + _mm_popcnt_u64(keep & ~0ULL >> __builtin_clzll(ends));  // through the last end
        output += _mm_popcnt_u64(keep);
        if (within != ~0ULL) {
            input += _mm_popcnt_u64(within);
            carried = 0;
            break;
        }
        input += 64;
        carried = beyond(escapes, 1) | beyond(escapes, 2) | beyond(soft3, 1) | beyond(soft3, 2) | beyond(soft2, 1)
            | beyond(crlf, 1);
        carried_kept = line_feeds ? 0 : beyond(crlf, 1);
    }
    // Bytes the last step decoded but did not pass: an escape's digits, a soft break's CR or LF (no output), a CRLF's
    // LF kept as it came.
    if (carried) {
        if (carried_kept) out[output++] = '\n';
        input += carried == 1 ? 1 : 2;
        kept = output;
    }
    position->input = input;
    position->output = output;
    position->kept = kept;
}
#endif

void meridian_qp_decode_blocks(const uint8_t *base, intptr_t end, uint8_t *out, bool line_feeds,
                               meridian_qp_position *position) {
#if MERIDIAN_X86
    if (meridian_cpu_features() & MERIDIAN_VECTORS_AVX512) qp_decode_avx512(base, end, out, line_feeds, position);
#else
    (void)base, (void)end, (void)out, (void)line_feeds, (void)position;
#endif
}
