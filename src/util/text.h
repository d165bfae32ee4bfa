/*
 * UTF-8 checks and showing untrusted text in a one-line message. UTF-8 here
 * is the strict kind (RFC 3629, as Python, jansson and the filesystems' NFC
 * checks see it): no overlong forms, no UTF-16 surrogates (U+D800..DFFF),
 * nothing beyond U+10FFFF.
 */
#ifndef UDFENV_UTIL_TEXT_H
#define UDFENV_UTIL_TEXT_H

#include <stddef.h>

/*
 * The length (1..4) of the valid UTF-8 sequence starting at `p` (p < end),
 * or 0 if none does: a stray continuation byte, C0, C1, F5..FF, a sequence
 * cut short by `end`, an overlong form, a surrogate or a code point beyond
 * U+10FFFF. ASCII (including NUL) is 1. Inline: the row readers call it per
 * non-ASCII character.
 */
static inline size_t udfenv_text_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t avail = (size_t)(end - p);

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		/* E0 needs A0.. (no overlongs); ED stops at 9F (no surrogates). */
		unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		/* F0 needs 90.. (no overlongs); F4 stops at 8F (U+10FFFF). */
		unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		if (avail < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* Whether s[0..len) is all valid UTF-8 (a NUL byte counts as ASCII). */
int udfenv_text_utf8_valid(const char *s, size_t len);

/* Longest slice of `raw` udfenv_text_show keeps, in input bytes. */
#define UDFENV_TEXT_SHOW_MAX 200
/* Room for UDFENV_TEXT_SHOW_MAX bytes escaped as \xNN (or a last sequence), "..." and NUL. */
#define UDFENV_TEXT_SHOW_SIZE (UDFENV_TEXT_SHOW_MAX * 4 + 8)

/*
 * Write the C string `raw` (a name from an archive, a wheel, a user) into
 * `out` for a one-line message: control characters, DEL and every byte that
 * is not part of valid UTF-8 become \xNN (lower-case hex); past
 * UDFENV_TEXT_SHOW_MAX bytes it is cut and "..." added.
 */
void udfenv_text_show(char out[UDFENV_TEXT_SHOW_SIZE], const char *raw);

#endif
