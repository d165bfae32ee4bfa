/*
 * SHA-256 through libcrypto's SHA256_* functions, not EVP: EVP's first
 * digest sets up OpenSSL 3's provider machinery, about 1 ms of every
 * process's life, which is most of a warm start's budget. SHA256_* run the
 * same assembly without it. OpenSSL 3 marks them deprecated but ships them
 * in every 3.x; a libcrypto built without deprecated APIs fails the build
 * here, not at run time.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "util/hash.h"
#include "util/error.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct udfenv_sha256 {
	SHA256_CTX ctx;
};

int udfenv_sha256_new(udfenv_sha256 **out)
{
	udfenv_sha256 *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (h == NULL || SHA256_Init(&h->ctx) != 1) {
		udfenv_sha256_free(h);
		return udfenv_error_set(UDFENV_ENOMEM, "cannot set up SHA-256");
	}
	*out = h;
	return 0;
}

int udfenv_sha256_update(udfenv_sha256 *h, const void *data, size_t len)
{
	if (SHA256_Update(&h->ctx, data, len) != 1)
		return udfenv_error_set(UDFENV_ERROR, "SHA-256 update failed");
	return 0;
}

int udfenv_sha256_final_raw(udfenv_sha256 *h, unsigned char md[UDFENV_SHA256_LEN])
{
	if (SHA256_Final(md, &h->ctx) != 1)
		return udfenv_error_set(UDFENV_ERROR, "SHA-256 final failed");
	return 0;
}

int udfenv_sha256_final(udfenv_sha256 *h, char hex[UDFENV_SHA256_HEX])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	int error;

	if ((error = udfenv_sha256_final_raw(h, md)) < 0)
		return error;
	for (unsigned int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
	return 0;
}

void udfenv_sha256_free(udfenv_sha256 *h)
{
	if (h == NULL)
		return;
	free(h);
}

int udfenv_sha256_fd(int in, const char *in_name, int out, const char *out_name,
		     char hex[UDFENV_SHA256_HEX], uint64_t *size)
{
	udfenv_sha256 *h = NULL;
	char block[65536];
	uint64_t total = 0;
	ssize_t n;
	int error;

	if ((error = udfenv_sha256_new(&h)) < 0)
		return error;
	while ((n = read(in, block, sizeof(block))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot read '%s'", in_name);
			goto done;
		}
		if ((error = udfenv_sha256_update(h, block, (size_t)n)) < 0)
			goto done;
		if (out >= 0 && udfenv_fs_write_all(out, block, (size_t)n) < 0) {
			error = udfenv_error_set_os(UDFENV_ERROR, "cannot write '%s'", out_name);
			goto done;
		}
		total += (uint64_t)n;
	}
	if ((error = udfenv_sha256_final(h, hex)) == 0 && size)
		*size = total;
done:
	udfenv_sha256_free(h);
	return error;
}

int udfenv_sha256_file(const char *path, char hex[UDFENV_SHA256_HEX], uint64_t *size)
{
	int fd, error;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return udfenv_error_set_os(udfenv_error_from_errno(errno), "cannot open '%s'", path);
	error = udfenv_sha256_fd(fd, path, -1, NULL, hex, size);
	close(fd);
	return error;
}

int udfenv_sha256_is_hex(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}
