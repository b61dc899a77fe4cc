/*
 * stream.c — fuzz target: the export-stream reader (stream_import) into a
 * private VM store.
 *
 * Input: an option byte, then a tar stream. Option bits:
 *   1  fix-up: before the import, the harness re-packs the stream with every
 *      MANIFEST "size" and "sha256" recomputed from the members, so mutated
 *      members (vm.xml, snapshot XML, VHD layers, .vsv) pass the checksums
 *      and reach the checks behind them (XML, chains, relinking, identities)
 *   2  --new-id
 *   4  --dest (disks into a folder of their own)
 * Invariants: a refused import leaves nothing behind in the store or the
 * --dest folder (DESIGN §5: nothing registered unless everything verified);
 * an accepted one registers the VM (then removed again for the next input).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "safeio.h"
#include "statedir.h"
#include "stream.h"

#define MAX_MEMBERS 64

struct member {
	char *name;
	uint8_t *data;
	size_t len;
};

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (!d)
		return true;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

static void sha256_hex(const uint8_t *p, size_t n, char out[65])
{
	uint8_t md[32];
	unsigned l = 0;

	EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Read the input tar (regular members only), fix the MANIFEST, write a new
 * tar into *out. Returns 0, or -1 when the input is not a tar we can re-pack
 * (the raw input is imported instead). */
static int fix_up(const uint8_t *data, size_t size, uint8_t **out, size_t *out_len)
{
	struct member m[MAX_MEMBERS];
	int n = 0, rc = -1;
	struct archive *a = archive_read_new(), *w = NULL;
	struct archive_entry *e;
	json_object *man = NULL;

	if (!a)
		return -1;
	archive_read_support_format_tar(a);
	if (archive_read_open_memory(a, data, size) != ARCHIVE_OK)
		goto out;
	while (n < MAX_MEMBERS && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		la_int64_t sz = archive_entry_size(e);
		if (!archive_entry_pathname(e) || sz < 0 || sz > (1 << 20))
			goto out;
		m[n].name = strdup(archive_entry_pathname(e));
		m[n].len = (size_t)sz;
		m[n].data = malloc(m[n].len + 1);
		if (!m[n].name || !m[n].data) {
			free(m[n].name);
			free(m[n].data);
			goto out;
		}
		n++;
		la_ssize_t got = archive_read_data(a, m[n - 1].data, m[n - 1].len);
		if (got < 0)
			goto out;
		m[n - 1].len = (size_t)got;
	}
	if (n == 0 || strcmp(m[0].name, "MANIFEST"))
		goto out;
	m[0].data[m[0].len] = '\0';
	man = json_tokener_parse((const char *)m[0].data);
	json_object *ms;
	if (man && json_object_object_get_ex(man, "members", &ms) &&
	    json_object_is_type(ms, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(ms); i++) {
			json_object *o = json_object_array_get_idx(ms, i), *nm;
			if (!json_object_is_type(o, json_type_object) ||
			    !json_object_object_get_ex(o, "name", &nm))
				continue;
			for (int k = 1; k < n; k++) {
				char hex[65];
				if (strcmp(m[k].name, json_object_get_string(nm)))
					continue;
				sha256_hex(m[k].data, m[k].len, hex);
				json_object_object_add(o, "size", json_object_new_int64((int64_t)m[k].len));
				json_object_object_add(o, "sha256", json_object_new_string(hex));
			}
		}
		const char *txt = json_object_to_json_string_ext(man, JSON_C_TO_STRING_PLAIN);
		free(m[0].data);
		m[0].data = (uint8_t *)strdup(txt);
		if (!m[0].data)
			goto out;
		m[0].len = strlen(txt);
	}
	/* the new stream */
	size_t cap = 65536;
	for (int k = 0; k < n; k++)
		cap += m[k].len + 2048;
	*out = malloc(cap);
	w = archive_write_new();
	if (!*out || !w || archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w, 1) != ARCHIVE_OK ||
	    archive_write_open_memory(w, *out, cap, out_len) != ARCHIVE_OK)
		goto out;
	for (int k = 0; k < n; k++) {
		struct archive_entry *we = archive_entry_new();
		archive_entry_set_pathname(we, m[k].name);
		archive_entry_set_filetype(we, AE_IFREG);
		archive_entry_set_perm(we, 0600);
		archive_entry_set_size(we, (la_int64_t)m[k].len);
		int r = archive_write_header(w, we);
		archive_entry_free(we);
		if (r != ARCHIVE_OK ||
		    (m[k].len && archive_write_data(w, m[k].data, m[k].len) != (la_ssize_t)m[k].len))
			goto out;
	}
	if (archive_write_close(w) != ARCHIVE_OK)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	json_object_put(man);
	if (w)
		archive_write_free(w);
	archive_read_free(a);
	for (int k = 0; k < n; k++) {
		free(m[k].name);
		free(m[k].data);
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store st;
	static char dest[512];
	struct stream_import_opts o = { .name = "fuzzvm" };
	struct stream_import_info info;
	struct error e;
	uint8_t *fixed = NULL;
	size_t flen = 0;

	if (size < 1)
		return 0;
	if (!st.root[0]) {
		fuzz_path(st.root, sizeof(st.root), "store");
		fuzz_path(dest, sizeof(dest), "dest");
		if (mkdir(st.root, 0700) < 0 || mkdir(dest, 0700) < 0)
			abort();
	}
	unsigned opt = data[0];
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	if ((opt & 1) && fix_up(in, len, &fixed, &flen) == 0) {
		in = fixed;
		len = flen;
	}
	o.new_id = opt & 2;
	o.dest = (opt & 4) ? dest : NULL;

	int fd = memfd_create("stream", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0 && io_write_full(fd, in, len) == 0 && lseek(fd, 0, SEEK_SET) == 0);
	int rc = stream_import(&st, fd, "fuzz.tar", &o, &info, &e);
	close(fd);
	free(fixed);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "import: %s\n", rc < 0 ? e.msg : "accepted");
	if (rc < 0) {
		FUZZ_ASSERT(dir_empty(st.root));
		FUZZ_ASSERT(dir_empty(dest));
		return 0;
	}
	/* accepted: registered as fuzzvm; remove it for the next input */
	char vmdir[600];
	snprintf(vmdir, sizeof(vmdir), "%s/fuzzvm", st.root);
	FUZZ_ASSERT(store_remove_tree(vmdir, &e) == 0);
	if (o.dest)
		FUZZ_ASSERT(store_remove_tree(dest, &e) == 0 && mkdir(dest, 0700) == 0);
	FUZZ_ASSERT(dir_empty(st.root));
	return 0;
}
