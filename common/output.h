/*
 * output.h — the one emitter every command reports through.
 *
 * A command builds a document (objects, arrays, tables, scalars; key order
 * kept) and prints it once in the mode the user chose:
 *   OUT_TEXT  human output: "key: value", nested blocks indented, tables with
 *             a header row; sizes as "4 MiB (4194304 bytes)". Not a contract.
 *   OUT_JSON  one JSON document, snake_case keys, sizes in bytes, times
 *             RFC 3339 UTC. A stable contract.
 *   OUT_TSV   (-H) no header, tab-separated, exact numbers; tables print one
 *             row a line, anything else one "dotted.key<TAB>value" a line.
 *
 * Calling sequence:
 *   struct out *o = out_new(mode);
 *   out_str(o, "file", path); out_begin_object(o, "parent"); ...; out_end(o);
 *   rc = out_print(o, stdout, &err);   checks for write errors (full disk, EPIPE)
 *   out_free(o);
 */
#ifndef VMSNAP_OUTPUT_H
#define VMSNAP_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "error.h"

enum out_mode { OUT_TEXT, OUT_JSON, OUT_TSV };

struct out;

struct out *out_new(enum out_mode mode);
void out_free(struct out *o);
enum out_mode out_mode(const struct out *o);

/* Containers; key is NULL for elements of an array. */
void out_begin_object(struct out *o, const char *key);
void out_begin_array(struct out *o, const char *key);
/* An array of flat objects shown as a table in text and -H modes. */
void out_begin_table(struct out *o, const char *key);
void out_end(struct out *o);

void out_str(struct out *o, const char *key, const char *val); /* NULL: null */
void out_u64(struct out *o, const char *key, uint64_t val);
void out_i64(struct out *o, const char *key, int64_t val);
void out_bool(struct out *o, const char *key, bool val);
void out_size(struct out *o, const char *key, uint64_t bytes);
void out_time(struct out *o, const char *key, time_t t);  /* RFC 3339 UTC */

/* Render to fp and flush; -1 with err set on a write error. */
int out_print(struct out *o, FILE *fp, struct error *err);

#endif
