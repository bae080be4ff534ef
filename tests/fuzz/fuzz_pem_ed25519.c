/* libFuzzer harness: arbitrary bytes through PEM normalisation, the armor scanner and the
 * strict Ed25519 PKCS#8 path (sfs_validate, type ed25519), with a domain tag and a key id so
 * the self-test and fingerprint code run on every accepted key. */
#include "secret_fs/secure_mem.h"
#include "secret_fs/validate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	return 0;
}
