// Byte loops of the MIME core and the payload writer that want vector instructions: Swift's SIMD types do not
// compile to them here (docs/benchmarks.md). Each function asks once what the processor can do; without the
// instructions (or not on x86-64) it does the same work a byte at a time, or leaves it to its caller's byte loop.
#ifndef C_MERIDIAN_BYTES_H
#define C_MERIDIAN_BYTES_H

#include <stdbool.h>
#include <stdint.h>

/// The vector instructions a function may use, when the processor has them. Production passes all; tests pass fewer,
/// to try each loop. AVX-512 means F, BW and VBMI2 with BMI1 and BMI2.
enum {
    MERIDIAN_VECTORS_NONE = 0,
    MERIDIAN_VECTORS_SSSE3 = 1 << 0,
    MERIDIAN_VECTORS_AVX512 = 1 << 1,
    MERIDIAN_VECTORS_ALL = MERIDIAN_VECTORS_SSSE3 | MERIDIAN_VECTORS_AVX512,
};

/// Whether the processor has all of `vectors` that the loops use (after MERIDIAN_VECTORS, see cpu.h): a caller that
/// would call a loop many times asks once.
bool meridian_vectors_available(int vectors);

/// Where a quoted-printable decoder stands: the next input byte, the next output byte, and the output length before
/// which nothing is trailing whitespace of the line (after the line's start or its last escape).
typedef struct {
    intptr_t input;
    intptr_t output;
    intptr_t kept;
} meridian_qp_position;

/// Decodes quoted-printable from `position` on, 64 input bytes a step, for as long as each step holds only what it
/// can decode alone: plain bytes, `=XX` escapes of anything but CR and LF, soft breaks (`=` CRLF, `=` LF) and hard
/// breaks that need no blanks trimmed. It stops before the first thing that does not fit, 66 bytes before `end`, or at
/// once without AVX-512; the caller's byte loop decodes that thing and may call again. With `line_feeds`, a CRLF
/// break is written as LF. The output is never longer than the input it came from, and a step may write up to 64
/// bytes past its output (never past the input's length): `out` must be as long as the input.
void meridian_qp_decode_blocks(const uint8_t *base, intptr_t end, uint8_t *out, bool line_feeds,
                               meridian_qp_position *position);

/// Whether `count` bytes are UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF, no
/// sequence cut short at the end). 64 bytes a step with AVX-512, 16 with SSSE3 (the lookup method of Keiser and
/// Lemire, "Validating UTF-8 in less than one instruction per byte", 2021), a step of ASCII costing one test.
bool meridian_utf8_valid_using(const uint8_t *bytes, intptr_t count, int vectors);

/// The byte-at-a-time check's state machine (utf8.c), for a decoder that checks its output as it writes it: start at
/// 0, step with every byte written (one ASCII byte stands for a run of them), and the output is UTF-8 if it ends at 0.
/// Each byte's row holds every state's next state, six bits at the state's own offset: a step is a load and a shift.
extern uint64_t meridian_utf8_rows[256];

static inline uint64_t meridian_utf8_step(uint64_t state, uint8_t byte) {
    return meridian_utf8_rows[byte] >> state & 63;
}

/// The length of `count` bytes of UTF-8 written as the inside of a JSON string (RFC 8259): a quote and a backslash
/// escaped, LF, CR and TAB as `\n`, `\r`, `\t`, the other bytes below 0x20 as `\u00XX` (lower-case hex), all others
/// as they are. -1 without AVX-512: then the caller escapes them itself (a word at a time, appending as it goes, is as
/// fast as anything without it).
intptr_t meridian_json_escaped_length_using(const uint8_t *bytes, intptr_t count, int vectors);

/// Writes them so, exactly as many bytes as `meridian_json_escaped_length_using` said, 64 bytes a step.
void meridian_json_escape_using(const uint8_t *bytes, intptr_t count, uint8_t *out, int vectors);

/// Checks clean base64 in lines of one length, as encoders write it: from `base` on, every `stride` bytes a line of
/// `length` base64 digits then LF (CR LF when `crlf`, `stride` counting the break), for as long as the lines are so
/// and end before `end`. Returns where such lines stop (a multiple of `stride`); -1 without AVX-512, when the caller
/// checks them itself. A line is one or two 64-byte steps.
intptr_t meridian_base64_fixed_lines_using(const uint8_t *base, intptr_t end, intptr_t length, intptr_t stride, bool crlf,
                                           int vectors);

/// Copies the lines that `meridian_base64_fixed_lines_using` checked (up to `fixed_end`) to `out` without their breaks,
/// `length` bytes each; false without AVX-512, when the caller copies them itself.
bool meridian_base64_copy_lines_using(const uint8_t *base, intptr_t fixed_end, intptr_t length, intptr_t stride, uint8_t *out,
                                      int vectors);

#endif
