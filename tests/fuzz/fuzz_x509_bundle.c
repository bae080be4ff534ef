/* libFuzzer harness: arbitrary bytes as a certificate bundle: normalisation, our PEM scanner,
 * d2i_X509 with full consumption, validity and CA checks (type x509), then as a tls-cert whose
 * CA bundle is the same bytes (chain verification). The clock is fixed so runs reproduce. */
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
	    .type = SFS_TYPE_X509,
	    .data = data,
	    .len = size,
	    .warn_days = 30,
	    .now = 1800000000,
	};
	struct sfs_validate_result res;
	struct sfs_error err;

	if (!initialised) {
		if (sfs_init(NULL) < 0)
			abort();
		initialised = 1;
	}
	if (sfs_validate(&req, &res, &err) == 0 && res.ncerts == 0)
		abort();
	sfs_validate_result_free(&res);
	req.type = SFS_TYPE_TLS_CERT;
	req.ca = data;
	req.ca_len = size;
	if (sfs_validate(&req, &res, &err) == 0 && res.ncerts == 0)
		abort();
	sfs_validate_result_free(&res);
	return 0;
}
