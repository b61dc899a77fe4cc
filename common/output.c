#include "output.h"

#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define OUT_MAX_DEPTH 32
#define OUT_MAX_TABLES 64

struct out {
	enum out_mode mode;
	json_object *root;
	json_object *stack[OUT_MAX_DEPTH];
	int depth;
	json_object *tables[OUT_MAX_TABLES];
	int ntables;
	bool failed;
};

struct out *out_new(enum out_mode mode)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->mode = mode;
	o->root = json_object_new_object();
	if (!o->root) {
		free(o);
		return NULL;
	}
	o->stack[0] = o->root;
	return o;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	json_object_put(o->root);
	free(o);
}

enum out_mode out_mode(const struct out *o)
{
	return o->mode;
}

static void add(struct out *o, const char *key, json_object *val)
{
	json_object *cur = o->stack[o->depth];

	if (json_object_is_type(cur, json_type_array))
		json_object_array_add(cur, val);
	else
		json_object_object_add(cur, key ? key : "", val);
}

static void begin(struct out *o, const char *key, json_object *c)
{
	if (!c || o->depth + 1 >= OUT_MAX_DEPTH) {
		o->failed = true;
		json_object_put(c);
		return;
	}
	add(o, key, c);
	o->stack[++o->depth] = c;
}

void out_begin_object(struct out *o, const char *key)
{
	begin(o, key, json_object_new_object());
}

void out_begin_array(struct out *o, const char *key)
{
	begin(o, key, json_object_new_array());
}

void out_begin_table(struct out *o, const char *key)
{
	json_object *a = json_object_new_array();

	if (a && o->ntables < OUT_MAX_TABLES)
		o->tables[o->ntables++] = a;
	begin(o, key, a);
}

void out_end(struct out *o)
{
	if (o->depth > 0)
		o->depth--;
}

void out_str(struct out *o, const char *key, const char *val)
{
	add(o, key, val ? json_object_new_string(val) : NULL);
}

void out_u64(struct out *o, const char *key, uint64_t val)
{
	add(o, key, json_object_new_uint64(val));
}

void out_i64(struct out *o, const char *key, int64_t val)
{
	add(o, key, json_object_new_int64(val));
}

void out_bool(struct out *o, const char *key, bool val)
{
	add(o, key, json_object_new_boolean(val));
}

static bool in_table(const struct out *o)
{
	for (int d = o->depth; d >= 0; d--)
		for (int i = 0; i < o->ntables; i++)
			if (o->stack[d] == o->tables[i])
				return true;
	return false;
}

void out_size(struct out *o, const char *key, uint64_t bytes)
{
	char h[32], buf[96];

	if (o->mode != OUT_TEXT) {
		out_u64(o, key, bytes);
		return;
	}
	units_format_size(bytes, h, sizeof(h));
	if (in_table(o) || bytes < 1024)
		snprintf(buf, sizeof(buf), "%s", h);
	else
		snprintf(buf, sizeof(buf), "%s (%llu bytes)", h, (unsigned long long)bytes);
	out_str(o, key, buf);
}

void out_time(struct out *o, const char *key, time_t t)
{
	char buf[40];

	out_str(o, key, units_format_time(t, buf, sizeof(buf)));
}

/* ---- rendering ---- */

static bool is_table(const struct out *o, const json_object *v)
{
	for (int i = 0; i < o->ntables; i++)
		if (o->tables[i] == v)
			return true;
	return false;
}

static const char *scalar(json_object *v)
{
	if (!v)
		return "-";
	return json_object_get_string(v);
}

static bool is_scalar(json_object *v)
{
	return !v || (!json_object_is_type(v, json_type_object) &&
		      !json_object_is_type(v, json_type_array));
}

static void text_key(FILE *fp, const char *key, int width)
{
	int n = 0;

	for (const char *p = key; *p; p++, n++)
		fputc(*p == '_' ? ' ' : *p, fp);
	fputc(':', fp);
	for (; n < width; n++)
		fputc(' ', fp);
}

static void text_table(FILE *fp, json_object *arr, int indent);
static void text_value_block(const struct out *o, FILE *fp, json_object *v, int indent);

static void text_object(const struct out *o, FILE *fp, json_object *obj, int indent, bool dash)
{
	int width = 0;
	bool first = true;

	json_object_object_foreach(obj, k1, v1) {
		(void)v1;
		if ((int)strlen(k1) > width)
			width = (int)strlen(k1);
	}
	json_object_object_foreach(obj, key, val) {
		int ind = indent;
		if (dash) {
			fprintf(fp, "%*s%s", indent > 2 ? indent - 2 : 0, "", first ? "- " : "  ");
		} else {
			fprintf(fp, "%*s", ind, "");
		}
		first = false;
		if (is_scalar(val)) {
			text_key(fp, key, width);
			fprintf(fp, " %s\n", scalar(val));
		} else if (json_object_is_type(val, json_type_array) && !is_table(o, val) &&
			   (json_object_array_length(val) == 0 ||
			    is_scalar(json_object_array_get_idx(val, 0)))) {
			text_key(fp, key, width);
			fputc(' ', fp);
			size_t n = json_object_array_length(val);
			if (!n)
				fputs("(none)", fp);
			for (size_t i = 0; i < n; i++)
				fprintf(fp, "%s%s", i ? ", " : "", scalar(json_object_array_get_idx(val, i)));
			fputc('\n', fp);
		} else {
			text_key(fp, key, 0);
			fputc('\n', fp);
			if (is_table(o, val))
				text_table(fp, val, indent + 2);
			else
				text_value_block(o, fp, val, indent + 2);
		}
	}
}

static void text_value_block(const struct out *o, FILE *fp, json_object *v, int indent)
{
	if (json_object_is_type(v, json_type_object)) {
		text_object(o, fp, v, indent, false);
		return;
	}
	size_t n = json_object_array_length(v);
	if (!n)
		fprintf(fp, "%*s(none)\n", indent, "");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (json_object_is_type(e, json_type_object))
			text_object(o, fp, e, indent + 2, true);
		else
			fprintf(fp, "%*s- %s\n", indent, "", scalar(e));
	}
}

static void text_table(FILE *fp, json_object *arr, int indent)
{
	size_t n = json_object_array_length(arr);
	int width[32] = { 0 };
	int ncol = 0, c;

	if (n == 0) {
		fprintf(fp, "%*s(none)\n", indent, "");
		return;
	}
	/* column widths from the header (first row's keys) and every value */
	c = 0;
	json_object_object_foreach(json_object_array_get_idx(arr, 0), hk, hv) {
		(void)hv;
		if (c < 32)
			width[c++] = (int)strlen(hk);
	}
	ncol = c;
	for (size_t i = 0; i < n; i++) {
		c = 0;
		json_object_object_foreach(json_object_array_get_idx(arr, i), k, v) {
			(void)k;
			if (c < ncol && (int)strlen(scalar(v)) > width[c])
				width[c] = (int)strlen(scalar(v));
			c++;
		}
	}
	fprintf(fp, "%*s", indent, "");
	c = 0;
	json_object_object_foreach(json_object_array_get_idx(arr, 0), hk2, hv2) {
		(void)hv2;
		if (c >= ncol)
			break;
		for (const char *p = hk2; *p; p++)
			fputc(*p == '_' ? ' ' : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p), fp);
		if (c < ncol - 1)
			fprintf(fp, "%*s", width[c] - (int)strlen(hk2) + 2, "");
		c++;
	}
	fputc('\n', fp);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%*s", indent, "");
		c = 0;
		json_object_object_foreach(json_object_array_get_idx(arr, i), k, v) {
			(void)k;
			if (c >= ncol)
				break;
			const char *s = scalar(v);
			if (c < ncol - 1)
				fprintf(fp, "%s%*s", s, width[c] - (int)strlen(s) + 2, "");
			else
				fputs(s, fp);
			c++;
		}
		fputc('\n', fp);
	}
}

static void tsv_value(FILE *fp, json_object *v)
{
	const char *s = scalar(v);

	/* keep one record per line: tabs and newlines in values become spaces */
	for (; *s; s++)
		fputc(*s == '\t' || *s == '\n' ? ' ' : *s, fp);
}

static void tsv(const struct out *o, FILE *fp, json_object *v, const char *prefix)
{
	char key[512];

	if (is_table(o, v)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			bool first = true;
			json_object_object_foreach(json_object_array_get_idx(v, i), k, cell) {
				(void)k;
				if (!first)
					fputc('\t', fp);
				first = false;
				tsv_value(fp, cell);
			}
			fputc('\n', fp);
		}
		return;
	}
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, child) {
			snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", k);
			tsv(o, fp, child, key);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "%s%s%zu", prefix, *prefix ? "." : "", i);
			tsv(o, fp, json_object_array_get_idx(v, i), key);
		}
	} else {
		fprintf(fp, "%s\t", prefix);
		tsv_value(fp, v);
		fputc('\n', fp);
	}
}

int out_print(struct out *o, FILE *fp, struct error *err)
{
	if (o->failed)
		return error_set(err, EXIT_FAIL, "out of memory building output");
	switch (o->mode) {
	case OUT_JSON:
		fputs(json_object_to_json_string_ext(o->root, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE), fp);
		fputc('\n', fp);
		break;
	case OUT_TSV:
		/* a document holding one table prints just its rows */
		tsv(o, fp, o->root, "");
		break;
	case OUT_TEXT:
		text_object(o, fp, o->root, 0, false);
		break;
	}
	if (fflush(fp) != 0 || ferror(fp))
		return error_errno(err, errno ? errno : EIO, "cannot write output");
	return 0;
}
