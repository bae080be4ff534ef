#include "tls_pair.h"

#include "pem_armor.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <string.h>

static const char *algorithm_name(const EVP_PKEY *pkey)
{
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_RSA_PSS:
		return "RSA-PSS";
	case EVP_PKEY_EC:
		return "EC";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	case EVP_PKEY_DSA:
		return "DSA";
	default:
		return "other";
	}
}

/* i2d into secure memory: a length query first, so OpenSSL never allocates the DER itself. */
static int encode_pkcs8(EVP_PKEY *pkey, struct sfs_secret *canonical, struct sfs_error *err)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	struct sfs_secret der = {0};
	unsigned char *p;
	int n, r;

	if (!p8) {
		r = sfs_error_set(err, -EINVAL, "cannot encode the key as PKCS#8");
		goto out;
	}
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL);
	if (n <= 0) {
		r = sfs_error_set(err, -EINVAL, "cannot encode the key as PKCS#8");
		goto out;
	}
	r = sfs_secret_alloc(&der, (size_t)n, err);
	if (r < 0)
		goto out;
	p = der.data;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n) {
		r = sfs_error_set(err, -EINVAL, "cannot encode the key as PKCS#8");
		goto out;
	}
	der.len = (size_t)n;
	r = sfs_pem_encode_append("PRIVATE KEY", der.data, der.len, canonical, err);
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	sfs_secret_free(&der);
	return r;
}

int sfs_tls_key_load(const unsigned char *der, size_t len, EVP_PKEY **pkey, const char **algorithm,
		     struct sfs_secret *canonical, struct sfs_error *err)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r, check;

	*pkey = NULL;
	*algorithm = NULL;
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (!p8 || p != der + len) {
		r = sfs_error_set(err, -EINVAL, "not a valid PKCS#8 private key%s",
				  p8 ? " (trailing bytes after it)" : "");
		goto out;
	}
	*pkey = EVP_PKCS82PKEY(p8);
	if (!*pkey) {
		r = sfs_error_set(err, -EINVAL, "OpenSSL cannot read this PKCS#8 private key");
		goto out;
	}
	*algorithm = algorithm_name(*pkey);
	ctx = EVP_PKEY_CTX_new(*pkey, NULL);
	if (!ctx) {
		r = sfs_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* -2: the algorithm has no such check; anything else but 1 is an inconsistent key. */
	check = EVP_PKEY_pairwise_check(ctx);
	if (check != 1 && check != -2) {
		r = sfs_error_set(err, -EINVAL, "the %s private key is inconsistent", *algorithm);
		goto out;
	}
	r = encode_pkcs8(*pkey, canonical, err);
out:
	EVP_PKEY_CTX_free(ctx);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (r < 0) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
	}
	ERR_clear_error();
	return r;
}

int sfs_tls_key_match(EVP_PKEY *pkey, X509 *cert, struct sfs_error *err)
{
	int ok = X509_check_private_key(cert, pkey);

	ERR_clear_error();
	if (ok != 1)
		return sfs_error_set(err, -EINVAL, "key does not match certificate");
	return 0;
}
