/* snapctl list, show, current */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeio.h"
#include "snapctl.h"
#include "units.h"
#include "uuid.h"

static bool is_current(const struct snaptree *t, const struct snapshot *s)
{
	return t->has_current && !memcmp(t->current, s->uuid, 16);
}

static void emit_snapshot(struct out *o, struct snaptree *t, const struct snapshot *s,
			  bool table)
{
	char u[UUID_STR_LEN];
	struct snapshot *p = s->has_parent ? snaptree_by_uuid(t, s->parent) : NULL;

	out_str(o, "name", s->name);
	out_str(o, "uuid", uuid_format(s->uuid, u));
	out_str(o, "parent", p ? p->name : NULL);
	out_time(o, "created", s->created);
	out_str(o, "type", s->online ? "online" : "offline");
	if (table && out_mode(o) == OUT_TEXT)
		out_str(o, "current", is_current(t, s) ? "*" : "");
	else
		out_bool(o, "current", is_current(t, s));
	out_size(o, "size_bytes", snapshot_disk_bytes(t->vmdir, s));
	if (!table || out_mode(o) != OUT_TEXT)
		out_str(o, "description", s->description);
}

static void draw(FILE *fp, struct snaptree *t, const struct snapshot *s, const char *prefix,
		 bool last, bool root)
{
	struct snapshot *kids[256];
	char pre[1024], ts[40];
	int n = snaptree_children(t, s, kids, 256);
	bool cur = s ? is_current(t, s) : !t->has_current;
	int total = n + (cur ? 1 : 0);

	if (s) {
		units_format_time(s->created, ts, sizeof(ts));
		fprintf(fp, "%s%s%s (%s, %s)\n", prefix, root ? "" : (last ? "└─ " : "├─ "), s->name,
			s->online ? "online" : "offline", ts);
		snprintf(pre, sizeof(pre), "%s%s", prefix, root ? "" : (last ? "   " : "│  "));
	} else {
		snprintf(pre, sizeof(pre), "%s", prefix);
	}
	for (int i = 0; i < n; i++)
		draw(fp, t, kids[i], pre, i == total - 1, false);
	if (cur)
		fprintf(fp, "%s%sNow\n", pre, s ? "└─ " : "");
}

int cmd_list(struct cli *cli, int argc, const char **argv)
{
	int tree = 0, rc;
	struct poptOption opts[] = {
		{ "tree", 't', POPT_ARG_NONE, &tree, 0, "draw the snapshot tree", NULL },
		POPT_TABLEEND
	};
	struct snapvm vm;
	struct snaptree t;
	struct error err;
	struct out *o;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	if (tree && cli->mode == OUT_TEXT) {
		struct snapshot *roots[256];
		int n = snaptree_children(&t, NULL, roots, 256);
		for (int i = 0; i < n; i++)
			draw(cli->out, &t, roots[i], "", true, true);
		if (!t.has_current)
			fprintf(cli->out, "Now\n");
		snaptree_release(&t);
		snapvm_close(&vm);
		return EXIT_OK;
	}
	/* sorted by creation time */
	struct snapshot **v = malloc(((size_t)t.n + 1) * sizeof(*v));
	int n = 0;
	for (int i = 0; v && i < t.n; i++)
		v[n++] = t.v[i];
	for (int i = 1; v && i < n; i++)
		for (int k = i; k > 0 && (v[k - 1]->created > v[k]->created ||
					  (v[k - 1]->created == v[k]->created &&
					   strcmp(v[k - 1]->name, v[k]->name) > 0)); k--) {
			struct snapshot *x = v[k];
			v[k] = v[k - 1];
			v[k - 1] = x;
		}
	o = out_new(cli->mode);
	out_str(o, "vm", vm.name);
	out_begin_table(o, "snapshots");
	for (int i = 0; i < n; i++) {
		out_begin_object(o, NULL);
		emit_snapshot(o, &t, v[i], true);
		out_end(o);
	}
	out_end(o);
	if (cli->mode == OUT_TSV) {
		/* -H: the rows only */
		struct out *r = out_new(OUT_TSV);
		out_begin_table(r, "snapshots");
		for (int i = 0; i < n; i++) {
			out_begin_object(r, NULL);
			emit_snapshot(r, &t, v[i], true);
			out_end(r);
		}
		out_end(r);
		rc = out_print(r, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
		out_free(r);
	} else {
		rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
	}
	out_free(o);
	free(v);
	snaptree_release(&t);
	snapvm_close(&vm);
	return rc;
}

int cmd_show(struct cli *cli, int argc, const char **argv)
{
	int xml = 0, rc;
	struct poptOption opts[] = {
		{ "xml", 'x', POPT_ARG_NONE, &xml, 0, "print the snapshot's XML as stored", NULL },
		POPT_TABLEEND
	};
	struct snapvm vm;
	struct snaptree t;
	struct snapshot *s;
	struct error err;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, opts, CLI_REPORTS, 2, 2);
	if (rc != CLI_CONTINUE)
		return rc;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	s = snaptree_find(&t, cli->args[1], &err);
	if (!s) {
		snaptree_release(&t);
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	if (xml) {
		char *path = snapshot_path(vm.dir, s->uuid, ".xml"), buf[65536];
		int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			io_write_full(STDOUT_FILENO, buf, (size_t)n);
		if (fd >= 0)
			close(fd);
		free(path);
		rc = EXIT_OK;
	} else {
		struct out *o = out_new(cli->mode);
		char *vsv = snapshot_path(vm.dir, s->uuid, ".vsv");
		out_str(o, "vm", vm.name);
		emit_snapshot(o, &t, s, false);
		out_begin_array(o, "disks");
		for (int i = 0; i < s->ndisks; i++) {
			out_begin_object(o, NULL);
			out_str(o, "target", s->disks[i].target);
			out_str(o, "file", s->disks[i].file);
			out_end(o);
		}
		out_end(o);
		out_str(o, "memory_file", s->online ? s->memory : NULL);
		out_str(o, "state_file", s->online ? vsv : NULL);
		out_begin_object(o, "config");
		out_str(o, "name", s->domain->name);
		out_size(o, "memory_bytes", s->domain->memory_bytes);
		out_u64(o, "vcpus", s->domain->vcpus);
		out_str(o, "kernel", s->domain->kernel);
		out_str(o, "initrd", s->domain->initrd);
		out_str(o, "cmdline", s->domain->cmdline);
		out_end(o);
		free(vsv);
		rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
		out_free(o);
	}
	snaptree_release(&t);
	snapvm_close(&vm);
	return rc;
}

int cmd_current(struct cli *cli, int argc, const char **argv)
{
	struct snapvm vm;
	struct snaptree t;
	struct error err;
	struct snapshot *s;
	int rc;

	error_init(&err);
	rc = cli_parse(cli, argc, argv, NULL, CLI_REPORTS, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (snapvm_open(cli, cli->args[0], &vm, &err) < 0 || snaptree_load(&t, vm.dir, &err) < 0) {
		snapvm_close(&vm);
		return cli_fail(cli, &err);
	}
	s = t.has_current ? snaptree_by_uuid(&t, t.current) : NULL;
	if (cli->mode == OUT_TEXT) {
		char u[UUID_STR_LEN];
		if (s)
			fprintf(cli->out, "%s\t%s\n", s->name, uuid_format(s->uuid, u));
		else
			fprintf(cli->out, "(none)\n");
		rc = EXIT_OK;
	} else {
		struct out *o = out_new(cli->mode);
		out_str(o, "vm", vm.name);
		if (s) {
			out_begin_object(o, "current");
			emit_snapshot(o, &t, s, false);
			out_end(o);
		} else {
			out_str(o, "current", NULL);
		}
		rc = out_print(o, cli->out, &err) < 0 ? cli_fail(cli, &err) : EXIT_OK;
		out_free(o);
	}
	snaptree_release(&t);
	snapvm_close(&vm);
	return rc;
}
