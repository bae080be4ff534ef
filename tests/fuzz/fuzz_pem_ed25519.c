/* libFuzzer harness: arbitrary bytes through PEM normalisation, the armor scanner and the
 * strict Ed25519 PKCS#8 path (sfs_validate, type ed25519), with a domain tag and a key id so
 * the self-test and fingerprint code run on every accepted key.
 *
 * Invariant beyond the result's contract: normalisation is idempotent. What it accepted
 * normalises again, without error, to the same bytes: normalise(normalise(x)) ==
 * normalise(x). */
#include "pem_normalize.h"
#include "secret_fs/secure_mem.h"
#include "secret_fs/source.h"
#include "secret_fs/validate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normalize_idempotent(const uint8_t *data, size_t size)
{
	struct sfs_secret once = {0}, twice = {0};
	struct sfs_warnings w = {0};
	struct sfs_error err = {0};

	if (sfs_pem_normalize(data, size, SFS_MAX_SECRET_BYTES, &once, &w, &err) == 0) {
		if (sfs_pem_normalize(once.data, once.len, SFS_MAX_SECRET_BYTES, &twice, &w,
				      &err) != 0)
			abort();
		if (!sfs_secret_equal(&once, &twice))
			abort();
	}
	sfs_secret_free(&once);
	sfs_secret_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct sfs_validate_req req = {
	    .type = SFS_TYPE_ED25519,
	    .data = data,
	    .len = size,
	    .domain = "fuzz.signing.v1",
	    .key_id = "fuzz-key-label",
	};
	struct sfs_validate_result res;
	struct sfs_error err;

	if (!initialised) {
		if (sfs_init(NULL) < 0)
			abort();
		initialised = 1;
	}
	/* Every outcome is fine except a crash, a leak or a result that breaks its contract. */
	if (sfs_validate(&req, &res, &err) == 0 && (res.canonical.len != 119 || !res.has_key_info))
		abort();
	sfs_validate_result_free(&res);
	check_normalize_idempotent(data, size);
	return 0;
}
