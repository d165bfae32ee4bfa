#include "util/text.h"

#include <stdint.h>
#include <string.h>

int udfenv_text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		/* Most text is ASCII: skip it eight bytes at a time. */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		while (p < end && *p < 0x80)
			p++;
		if (p == end)
			break;
		size_t n = udfenv_text_utf8_seq(p, end);
		if (n == 0)
			return 0;
		p += n;
	}
	return 1;
}

void udfenv_text_show(char out[UDFENV_TEXT_SHOW_SIZE], const char *raw)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)raw, *end = s + strlen(raw);
	size_t n = (size_t)(end - s), i = 0, o = 0, k;

	while (i < n && i < UDFENV_TEXT_SHOW_MAX) {
		k = s[i] < 0x20 || s[i] == 0x7f ? 0 : udfenv_text_utf8_seq(s + i, end);
		if (k == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i] & 0xf];
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
