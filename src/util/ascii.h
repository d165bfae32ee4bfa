/*
 * ASCII character tests and case folding, independent of the locale (the
 * <ctype.h> and strcasecmp family follow LC_CTYPE, and the formats read
 * with these -- wheel names, metadata headers, PEP 440/508 text -- are
 * defined on ASCII only). Bytes >= 0x80 are never letters, digits or space.
 */
#ifndef UDFENV_UTIL_ASCII_H
#define UDFENV_UTIL_ASCII_H

#include <stddef.h>

static inline int udfenv_ascii_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int udfenv_ascii_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || udfenv_ascii_is_digit(c);
}

/* C's isspace in the "C" locale: space, \t, \n, \r, \f, \v. */
static inline int udfenv_ascii_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline char udfenv_ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether [a, a + alen) and [b, b + blen) are equal, ASCII case ignored. */
static inline int udfenv_ascii_eq_nocase_n(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return 0;
	for (size_t i = 0; i < alen; i++)
		if (udfenv_ascii_lower(a[i]) != udfenv_ascii_lower(b[i]))
			return 0;
	return 1;
}

/* Whether the strings `a` and `b` are equal, ASCII case ignored. */
static inline int udfenv_ascii_eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (udfenv_ascii_lower(*a) != udfenv_ascii_lower(*b))
			return 0;
	return *a == *b;
}

/* Move `*s` forward and `*e` back past udfenv_ascii_is_space bytes of [*s, *e). */
static inline void udfenv_ascii_trim(const char **s, const char **e)
{
	while (*s < *e && udfenv_ascii_is_space(**s))
		(*s)++;
	while (*e > *s && udfenv_ascii_is_space((*e)[-1]))
		(*e)--;
}

#endif
