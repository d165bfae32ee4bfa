/*
 * Rows: types, schemas, batches, and the text forms of values shared by the
 * CSV and JSON code (rows_read.c, rows_write.c, rows_json.c).
 *
 * Numbers are on the hot path of every job (each value is parsed once and
 * printed once per direction), so the common cases are done by hand and
 * only the hard ones reach strtod/snprintf, in the C locale whatever the
 * process's locale is.
 */
#include "lib/rows_int.h"
#include "util/text.h"
#include "util/error.h"
#include "util/path.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- types and formats --- */

static const char *const type_names[] = {"NULL", "BIGINT", "DOUBLE", "STRING", "BOOLEAN"};

const char *rows_type_name(rows_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

int rows_type_parse(const char *name)
{
	for (int t = ROWS_BIGINT; t <= ROWS_BOOLEAN; t++)
		if (strcmp(name, type_names[t]) == 0)
			return t;
	return -1;
}

int rows_format_parse(const char *name)
{
	if (strcmp(name, "csv") == 0)
		return ROWS_CSV;
	if (strcmp(name, "jsonl") == 0)
		return ROWS_JSONL;
	return -1;
}

const char *rows_format_name(rows_format f)
{
	return f == ROWS_JSONL ? "jsonl" : "csv";
}

/* --- numbers --- */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The C locale, so that "1.5" means 1.5 whatever setlocale the embedding program did. */
static locale_t get_c_locale(void)
{
	pthread_once(&c_locale_once, c_locale_init);
	return c_locale;
}

int rows__parse_int(const char *s, size_t len, int64_t *out)
{
	const char *p = s, *end = s + len;
	uint64_t m = 0, limit;
	int neg = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end)
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end; p++) {
		unsigned d = (unsigned char)*p - '0';
		if (d > 9)
			return -1;
		if (m > (limit - d) / 10) {
			/* Out of range, but still say "not an integer" for "99999x". */
			while (++p < end)
				if (!ROWS_IS_DIGIT(*p))
					return -1;
			return -2;
		}
		m = m * 10 + d;
	}
	*out = neg ? (int64_t)(0 - m) : (int64_t)m;
	return 0;
}

typedef unsigned __int128 u128;
typedef __int128 i128;

/* clang-format off */
static const uint64_t pow10_u64[] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
	100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
	10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};
/* clang-format on */

static u128 pow10_128(int k)
{
	return k < 20 ? (u128)pow10_u64[k] : (u128)pow10_u64[19] * pow10_u64[k - 19];
}

static int bitlen128(u128 n)
{
	uint64_t hi = (uint64_t)(n >> 64);
	return hi ? 128 - __builtin_clzll(hi) : (uint64_t)n ? 64 - __builtin_clzll((uint64_t)n) : 0;
}

/*
 * Why this exists: Python writes most floats with 17 significant digits,
 * beyond Clinger's fast path, and strtod costs ~80 ns on those. Here the
 * value is an exact 128-bit integer (or quotient and remainder), so
 * rounding to 53 bits is exact too.
 */
int rows__dec_exact(uint64_t m, int e10, double *out)
{
	u128 n, low, half, rem = 0;
	int t = 0, shift, e;
	uint64_t q, bits;

	if (m == 0) {
		*out = 0.0;
		return 1;
	}
	if (e10 >= 0) {
		if (e10 > 19)
			return 0;
		n = (u128)m * pow10_u64[e10]; /* < 10^38 < 2^128: exact */
	} else {
		if (e10 < -21)
			return 0;
		/* m * 2^t / 10^j with 127 bits on top: at least 57 bits of quotient, plus the
		 * remainder. */
		u128 den = pow10_128(-e10), num;
		t = 127 - (64 - __builtin_clzll(m));
		num = (u128)m << t;
		n = num / den;
		rem = num % den;
	}
	if (bitlen128(n) <= 53 && t == 0) {
		*out = (double)(uint64_t)n;
		return 1;
	}
	shift = bitlen128(n) - 53;
	q = (uint64_t)(n >> shift);
	low = n & (((u128)1 << shift) - 1);
	half = (u128)1 << (shift - 1);
	/* Round half to even; a nonzero remainder means just above the half. */
	if (low > half || (low == half && (rem != 0 || (q & 1))))
		q++;
	if (q == (uint64_t)1 << 53) {
		q >>= 1;
		shift++;
	}
	e = shift - t + 52; /* the value is q * 2^(shift - t) = (q / 2^52) * 2^e */
	bits = ((uint64_t)(e + 1023) << 52) | (q & (((uint64_t)1 << 52) - 1));
	memcpy(out, &bits, sizeof(bits));
	return 1;
}

/*
 * Plain decimal text without strtod: up to 19 significant digits, then
 * rows__dec_to_double. Returns 1 when done, 0 when the text needs strtod
 * (or is not a plain decimal at all).
 */
static int dec_fast(const char *s, size_t len, double *out)
{
	const char *p = s, *end = s + len;
	uint64_t m = 0;
	int neg = 0, nd = 0, digits = 0, frac = 0, exp = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < end && ROWS_IS_DIGIT(*p); p++, digits++)
		if (m || *p != '0') {
			m = m * 10 + (unsigned)(*p - '0');
			if (++nd > 19)
				return 0;
		}
	if (p < end && *p == '.')
		for (p++; p < end && ROWS_IS_DIGIT(*p); p++, digits++, frac++)
			if (m || *p != '0') {
				m = m * 10 + (unsigned)(*p - '0');
				if (++nd > 19)
					return 0;
			}
	if (digits == 0)
		return 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		int eneg = 0, ed = 0;
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		for (; p < end && ROWS_IS_DIGIT(*p); p++)
			if (++ed > 4)
				return 0;
			else
				exp = exp * 10 + (*p - '0');
		if (ed == 0)
			return 0;
		if (eneg)
			exp = -exp;
	}
	if (p != end)
		return 0;
	return rows__dec_to_double(m, exp - frac, neg, out);
}

int rows__parse_double(const char *s, size_t len, double *out)
{
	char small[128], *tmp = small, *endp;
	locale_t loc;
	int error = 0;

	if (dec_fast(s, len, out))
		return 0;
	/* strtod would skip leading space and stop at a NUL: neither is a whole-field number. */
	if (len == 0 || memchr(s, '\0', len) || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return -1;
	if (len >= sizeof(small) && (tmp = malloc(len + 1)) == NULL)
		return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	loc = get_c_locale();
	*out = loc ? strtod_l(tmp, &endp, loc) : strtod(tmp, &endp);
	if (endp != tmp + len)
		error = -1;
	if (tmp != small)
		free(tmp);
	return error;
}

int rows__parse_bool(const char *s, size_t len, int *out)
{
	/* ASCII case folding by hand: no locale, no call per value. */
	if (len == 4 && (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' && (s[2] | 0x20) == 'u' &&
	    (s[3] | 0x20) == 'e')
		*out = 1;
	else if (len == 5 && (s[0] | 0x20) == 'f' && (s[1] | 0x20) == 'a' && (s[2] | 0x20) == 'l' &&
	         (s[3] | 0x20) == 's' && (s[4] | 0x20) == 'e')
		*out = 0;
	else
		return -1;
	return 0;
}

/* clang-format off */
static const char digit_pairs[] = "00010203040506070809101112131415161718192021222324"
				  "25262728293031323334353637383940414243444546474849"
				  "50515253545556575859606162636465666768697071727374"
				  "75767778798081828384858687888990919293949596979899";
/* clang-format on */

/* Write m in decimal at dst, in place (two digits at a time); returns the length. */
static size_t fmt_u64(char *dst, uint64_t m)
{
	/* Digits from the bit length: 1233 / 4096 ~ log10(2), off by at most one. */
	size_t n = m ? (size_t)(((64 - __builtin_clzll(m)) * 1233) >> 12) : 0;
	char *p;

	if (n < 20 && m >= pow10_u64[n])
		n++;
	if (n == 0)
		n = 1;
	p = dst + n;
	while (m >= 100) {
		unsigned i = (unsigned)(m % 100) * 2;
		m /= 100;
		*--p = digit_pairs[i + 1];
		*--p = digit_pairs[i];
	}
	if (m >= 10) {
		*--p = digit_pairs[m * 2 + 1];
		*--p = digit_pairs[m * 2];
	} else {
		*--p = (char)('0' + m);
	}
	return n;
}

size_t rows__fmt_int(char *dst, int64_t v)
{
	if (v < 0) {
		*dst = '-';
		return 1 + fmt_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
	}
	return fmt_u64(dst, (uint64_t)v);
}

static size_t fmt_nonfinite(char *dst, double d, int json)
{
	const char *s = isnan(d) ? (json ? "NaN" : "nan")
	                : d > 0  ? (json ? "Infinity" : "inf")
	                         : (json ? "-Infinity" : "-inf");
	size_t n = strlen(s);
	memcpy(dst, s, n);
	return n;
}

size_t rows__fmt_double_slow(char *dst, double d, int json)
{
	char tmp[40];
	locale_t loc, old = (locale_t)0;
	size_t n;
	int prec;

	if (!isfinite(d))
		return fmt_nonfinite(dst, d, json);
	if ((loc = get_c_locale()) != (locale_t)0)
		old = uselocale(loc);
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	if (loc != (locale_t)0)
		uselocale(old);
	n = strlen(tmp);
	memcpy(dst, tmp, n);
	if (strpbrk(tmp, ".e") == NULL) {
		memcpy(dst + n, ".0", 2);
		n += 2;
	}
	return n;
}

/*
 * Lay out the P-digit decimal q * 10^(x - P + 1) (q in [10^(P-1), 10^P))
 * as printf's %.Pg does: trailing zeros dropped, an exponent when x < -4 or
 * x >= P; then ".0" if it would read as an integer.
 */
static size_t layout_g(char *dst, uint64_t q, int P, int x)
{
	char digits[24], *p = dst;
	int nd = P;

	/* Short values end in many zeros: drop them in four steps, not one by one. */
	if (q % 100000000 == 0) {
		q /= 100000000;
		nd -= 8;
	}
	if (q % 10000 == 0) {
		q /= 10000;
		nd -= 4;
	}
	if (q % 100 == 0) {
		q /= 100;
		nd -= 2;
	}
	if (q % 10 == 0) {
		q /= 10;
		nd -= 1;
	}
	fmt_u64(digits, q);
	if (x < -4 || x >= P) {
		*p++ = digits[0];
		if (nd > 1) {
			*p++ = '.';
			for (int i = 1; i < nd; i++)
				*p++ = digits[i];
		}
		*p++ = 'e';
		*p++ = x < 0 ? '-' : '+';
		int ax = x < 0 ? -x : x;
		if (ax >= 100)
			*p++ = (char)('0' + ax / 100);
		*p++ = (char)('0' + ax / 10 % 10);
		*p++ = (char)('0' + ax % 10);
		return (size_t)(p - dst);
	}
	if (x < 0) {
		*p++ = '0';
		*p++ = '.';
		for (int i = -1; i > x; i--)
			*p++ = '0';
		for (int i = 0; i < nd; i++)
			*p++ = digits[i];
		return (size_t)(p - dst);
	}
	for (int i = 0; i <= x; i++)
		*p++ = i < nd ? digits[i] : '0';
	*p++ = '.';
	if (nd <= x + 1)
		*p++ = '0';
	for (int i = x + 1; i < nd; i++)
		*p++ = digits[i];
	return (size_t)(p - dst);
}

/*
 * The reference (rows__fmt_double_slow) without snprintf or strtod, in exact
 * integer arithmetic, for a = f * 2^-s with f a 53-bit mantissa and s in
 * 0..70, i.e. a in [2^-18, 2^53): every product below fits 128 bits. For P =
 * 15, 16, 17: N = a * 10^k rounded half-even to P digits (what glibc's
 * exact printf does), and N * 10^-k reads back as a (what strtod would
 * say) iff it lies within half an ulp of a -- a quarter below a power of
 * two -- the bounds included iff f is even (ties go to even). Returns 0
 * outside that range.
 */
static size_t fmt_double_exact(char *dst, double a)
{
	uint64_t bits, f;
	int s, x = 0;

	memcpy(&bits, &a, sizeof(bits));
	if ((bits >> 52) == 0)
		return 0; /* subnormal */
	f = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
	s = 1075 - (int)(bits >> 52);
	if (s < 0 || s > 70)
		return 0;
	/*
	 * x = floor(log10(a)), in [-6, 15]: a is in [2^b, 2^(b+1)) for b = 52 - s,
	 * so floor(b * log10(2)) (78913 / 2^18 ~ log10(2)) is x or x - 1; then exact.
	 */
	x = 52 - s >= 0 ? ((52 - s) * 78913) >> 18 : -(((s - 52) * 78913 + 262143) >> 18);
	for (;;) {
		/* a >= 10^x exactly? */
		int ge = x >= 0 ? (u128)f >= ((u128)pow10_u64[x] << s)
		                : (u128)f * pow10_u64[-x] >= ((u128)1 << s);
		if (!ge) {
			x--;
			continue;
		}
		int next = x + 1;
		int ge1 = next >= 0 ? (u128)f >= ((u128)pow10_u64[next] << s)
		                    : (u128)f * pow10_u64[-next] >= ((u128)1 << s);
		if (ge1) {
			x++;
			continue;
		}
		break;
	}
	for (int P = 15; P <= 17; P++) {
		int k = P - 1 - x, xp = x;
		uint64_t q;
		u128 num = 0;
		if (k >= 0) {
			num = (u128)f * pow10_128(k);
			u128 r = s ? num & (((u128)1 << s) - 1) : 0,
			     half = s ? (u128)1 << (s - 1) : 0;
			q = (uint64_t)(num >> s);
			if (s && (r > half || (r == half && (q & 1))))
				q++;
		} else {
			/* k = -1 or -2 (a >= 10^15): then s <= 3. */
			uint64_t den = pow10_u64[-k] << s, r = f % den;
			q = f / den;
			if (2 * r > den || (2 * r == den && (q & 1)))
				q++;
		}
		if (q == pow10_u64[P]) { /* rounding carried into a new digit */
			q = pow10_u64[P - 1];
			xp++;
			k--;
			num = k >= 0 ? (u128)f * pow10_128(k) : 0;
		}
		i128 diff;
		u128 limit;
		if (k >= 0) {
			diff = (i128)((u128)q << s) - (i128)num;
			limit = pow10_128(k);
		} else {
			diff = (i128)(((u128)q * pow10_u64[-k]) << s) - (i128)f;
			limit = 1;
		}
		u128 mag = (u128)(diff < 0 ? -diff : diff);
		/* Below a power of two the next double down is only half an ulp away. */
		u128 scaled = diff < 0 && f == ((uint64_t)1 << 52) ? 4 * mag : 2 * mag;
		if (scaled < limit || (scaled == limit && (f & 1) == 0))
			return layout_g(dst, q, P, xp);
	}
	return 0;
}

size_t rows__fmt_double(char *dst, double d, int json)
{
	size_t n;

	if (!isfinite(d))
		return fmt_nonfinite(dst, d, json);
	if (d == 0) {
		memcpy(dst, signbit(d) ? "-0.0" : "0.0", 4);
		return signbit(d) ? 4 : 3;
	}
	if (d < 0) {
		*dst = '-';
		if ((n = fmt_double_exact(dst + 1, -d)) > 0)
			return n + 1;
	} else if ((n = fmt_double_exact(dst, d)) > 0) {
		return n;
	}
	return rows__fmt_double_slow(dst, d, json);
}

/* --- text for messages --- */

int rows__snippet(udfenv_buf *out, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t used = 0;
	int error = 0;

	while (p < end && error == 0) {
		char esc[8];
		size_t n = 1;
		if (*p >= 0x80) {
			n = udfenv_text_utf8_seq(p, end);
			if (n == 0)
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
		} else if (*p < 0x20 || *p == 0x7F) {
			const char *named = *p == '\n'   ? "\\n"
			                    : *p == '\r' ? "\\r"
			                    : *p == '\t' ? "\\t"
			                                 : NULL;
			if (named)
				snprintf(esc, sizeof(esc), "%s", named);
			else
				snprintf(esc, sizeof(esc), "\\x%02x", *p);
			n = 0;
		}
		size_t w = n ? n : strlen(esc);
		if (used + w > max) {
			error = udfenv_buf_puts(out, "...");
			break;
		}
		error = n ? udfenv_buf_put(out, p, n) : udfenv_buf_puts(out, esc);
		used += w;
		p += n ? n : 1;
	}
	return error;
}

/* Bytes that a JSON string must escape. */
static const unsigned char json_esc[256] = {[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1};

size_t rows__json_escape(char *dst, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *p = dst;
	size_t i = 0;

	*p++ = '"';
	while (i < len) {
		/* Strings are mostly short: copying while scanning beats a memcpy call. */
		while (i < len && !json_esc[(unsigned char)s[i]])
			*p++ = s[i++];
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i++];
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		default:
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 15];
			p += 5;
		}
	}
	*p++ = '"';
	return (size_t)(p - dst);
}

/* --- schemas --- */

void rows_schema_dispose(rows_schema *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->cols[i].name);
	free(s->cols);
	s->cols = NULL;
	s->n = 0;
}

long rows_schema_find(const rows_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return (long)i;
	return -1;
}

int rows_schema_add(rows_schema *s, const char *name, rows_type type)
{
	udfenv_buf shown = UDFENV_BUF_INIT;
	size_t len = strlen(name);
	rows_column *cols;
	int error = 0;

	if (type < ROWS_BIGINT || type > ROWS_BOOLEAN)
		return udfenv_error_set(UDFENV_EINVALID, "column '%.64s': unknown type %d", name,
		                        (int)type);
	if (len == 0)
		return udfenv_error_set(UDFENV_EINVALID, "a column name is empty");
	if (len > 255 || !udfenv_text_utf8_valid(name, len)) {
		if ((error = rows__snippet(&shown, name, len, 40)) == 0)
			error = udfenv_error_set(
				UDFENV_EINVALID, "column name '%s' is %s", shown.ptr,
				len > 255 ? "longer than 255 bytes" : "not valid UTF-8");
		goto done;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F) {
			if ((error = rows__snippet(&shown, name, len, 64)) == 0)
				error = udfenv_error_set(
					UDFENV_EINVALID,
					"column name '%s' holds a control character", shown.ptr);
			goto done;
		}
	if (rows_schema_find(s, name) >= 0) {
		error = udfenv_error_set(UDFENV_EINVALID, "duplicate column '%s'", name);
		goto done;
	}
	if (s->n >= ROWS_COLUMNS_MAX) {
		error = udfenv_error_set(UDFENV_ELIMIT, "more than %d columns", ROWS_COLUMNS_MAX);
		goto done;
	}
	if ((cols = realloc(s->cols, (s->n + 1) * sizeof(*cols))) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	s->cols = cols;
	if ((cols[s->n].name = strdup(name)) == NULL) {
		error = udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		goto done;
	}
	cols[s->n++].type = type;
done:
	udfenv_buf_dispose(&shown);
	return error;
}

int rows__schema_copy(rows_schema *dst, const rows_schema *src)
{
	int error = 0;

	dst->n = 0;
	dst->cols = NULL;
	for (size_t i = 0; i < src->n && error == 0; i++)
		error = rows_schema_add(dst, src->cols[i].name, src->cols[i].type);
	if (error < 0)
		rows_schema_dispose(dst);
	return error;
}

/* --- batches --- */

void rows_batch_reset(rows_batch *b, size_t ncols)
{
	if (ncols != b->ncols) {
		/* `cap` counts rows of the old width: start the arrays over. */
		free(b->v);
		free(b->file);
		free(b->line);
		b->v = NULL;
		b->file = NULL;
		b->line = NULL;
		b->cap = 0;
		b->ncols = ncols;
	}
	b->nrows = 0;
	udfenv_buf_clear(&b->arena);
}

void rows_batch_dispose(rows_batch *b)
{
	if (b == NULL)
		return;
	free(b->v);
	free(b->file);
	free(b->line);
	udfenv_buf_dispose(&b->arena);
	b->v = NULL;
	b->file = NULL;
	b->line = NULL;
	b->ncols = b->nrows = b->cap = 0;
}

int rows__batch_reserve(rows_batch *b, size_t rows, int origin)
{
	size_t cap;

	if (rows <= b->cap && b->v != NULL && (!origin || b->file != NULL))
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < rows)
		cap = cap > SIZE_MAX / 2 ? rows : cap * 2;
	if ((b->ncols && cap > SIZE_MAX / sizeof(rows_value) / b->ncols) ||
	    cap > SIZE_MAX / sizeof(uint64_t))
		return udfenv_error_set(UDFENV_ENOMEM, "a batch of %zu rows is too large", rows);
	if (cap != b->cap || b->v == NULL) {
		rows_value *v = realloc(b->v, (b->ncols ? cap * b->ncols : 1) * sizeof(*v));
		if (v == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		b->v = v;
	}
	if (origin || b->file != NULL) {
		uint32_t *file = realloc(b->file, cap * sizeof(*file));
		if (file == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		b->file = file;
		uint64_t *line = realloc(b->line, cap * sizeof(*line));
		if (line == NULL)
			return udfenv_error_set(UDFENV_ENOMEM, "out of memory");
		b->line = line;
	}
	b->cap = cap;
	return 0;
}

int rows_format_row(udfenv_buf *out, const rows_batch *b, size_t r, const rows_schema *schema)
{
	size_t n = schema->n < b->ncols ? schema->n : b->ncols;
	int error;

	if ((error = udfenv_buf_putc(out, '{')) < 0)
		return error;
	for (size_t c = 0; c < n && error == 0; c++) {
		const rows_value *v = rows_batch_at(b, r, c);
		const char *name = schema->cols[c].name;
		size_t len;

		if ((error = rows__buf_need(out, 6 * strlen(name) + 8 + 6 * 200 + 8)) < 0)
			break;
		if (c > 0) {
			memcpy(out->ptr + out->size, ", ", 2);
			out->size += 2;
		}
		out->size += rows__json_escape(out->ptr + out->size, name, strlen(name));
		memcpy(out->ptr + out->size, ": ", 2);
		out->size += 2;
		if (v->kind != ROWS_STRING) {
			out->size = (size_t)(rows__put_value(out->ptr + out->size, b, v, 1) - out->ptr);
		} else {
			len = v->u.s.len;
			if (len > 200) {
				/* Cut on a character boundary. */
				const char *s = rows_batch_str(b, v);
				len = 200;
				while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
					len--;
			}
			out->size +=
				rows__json_escape(out->ptr + out->size, rows_batch_str(b, v), len);
			if (len < v->u.s.len) {
				/* The "..." goes inside the quotes: the value is still one string.
				 */
				memcpy(out->ptr + out->size - 1, "...\"", 4);
				out->size += 3;
			}
		}
		out->ptr[out->size] = '\0';
	}
	return error < 0 ? error : udfenv_buf_putc(out, '}');
}

/* --- sources --- */

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rows_list_source(udfenv_strvec *files, const char *path)
{
	udfenv_buf item = UDFENV_BUF_INIT;
	DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	size_t first = files->count;
	int error = 0;

	if (stat(path, &st) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
		                           "source '%s' cannot be read", path);
	if (S_ISREG(st.st_mode))
		return udfenv_strvec_push(files, path);
	if (!S_ISDIR(st.st_mode))
		return udfenv_error_set(UDFENV_EINVALID,
		                        "source '%s' is neither a file nor a directory", path);
	if ((d = opendir(path)) == NULL)
		return udfenv_error_set_os(udfenv_error_from_errno(errno),
		                           "cannot read directory '%s'", path);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno)
				error = udfenv_error_set_os(UDFENV_ERROR,
				                            "cannot read directory '%s'", path);
			break;
		}
		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		if ((error = udfenv_path_join(&item, path, de->d_name)) < 0)
			break;
		/* Follows links: a link to a part file is a part file. */
		if (stat(item.ptr, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if ((error = udfenv_strvec_push(files, item.ptr)) < 0)
			break;
		udfenv_buf_clear(&item);
	}
	closedir(d);
	udfenv_buf_dispose(&item);
	if (error == 0 && files->count - first > 1)
		qsort(files->items + first, files->count - first, sizeof(char *), compare_paths);
	return error;
}
