/* stream_recover.c — clean-up after interrupted exports and imports
 * (stream_recover in stream.h). */
#include "stream_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "vhd_modify.h"

/* After a commit: the absolute locators name the final places (best effort,
 * under the VM's op.lock; a running VM holds its layers and keeps them). */
static void recover_relinks(FILE *fp, const char *vmdir)
{
	char line[9000];
	struct oplock lk;
	struct error e;

	if (oplock_acquire(&lk, vmdir, "snapctl", "import", 0, &e) < 0)
		return;
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		struct vhd_setparent_result r;
		char *tab;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "relink ", 7) && (tab = strchr(line + 7, '\t'))) {
			*tab++ = '\0';
			vhd_set_parent(line + 7, tab, false, &r, &e);
		}
	}
	oplock_release(&lk);
}

/* An import interrupted after its journal: roll back unless the VM folder
 * was renamed into place (then only the leftovers go). */
static void recover_import(const char *tmp)
{
	char path[4400], line[9000], vmtmp[4400] = "", vmdir[4400] = "";
	FILE *fp;
	struct error e;

	snprintf(path, sizeof(path), "%s/journal", tmp);
	fp = fopen(path, "re");
	if (fp && (!fgets(line, sizeof(line), fp) || strcmp(line, "vmsnap-import 1\n"))) {
		fclose(fp);
		fp = NULL;
	}
	/* first pass: was the VM folder renamed into place (committed)? */
	while (fp && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "vm ", 3) && strchr(line, '\t')) {
			snprintf(vmtmp, sizeof(vmtmp), "%.*s", (int)strcspn(line + 3, "\t"), line + 3);
			snprintf(vmdir, sizeof(vmdir), "%s", strchr(line, '\t') + 1);
		}
	}
	bool committed = vmtmp[0] && !stream_exists(vmtmp) && stream_exists(vmdir);
	if (committed)
		recover_relinks(fp, vmdir);
	if (fp)
		rewind(fp);
	while (fp && fgets(line, sizeof(line), fp)) {
		char *tab;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "disk ", 5) && !committed && (tab = strchr(line + 5, '\t'))) {
			*tab++ = '\0';
			if (!stream_exists(line + 5) && stream_exists(tab))
				rename(tab, line + 5);   /* back into the temporary folder */
		}
	}
	if (fp)
		rewind(fp);
	while (fp && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "desttmp ", 8) && strstr(line, "/.vmsnap-import-"))
			store_remove_tree(line + 8, &e);
	}
	if (fp)
		fclose(fp);
	store_remove_tree(tmp, &e);
}

int stream_recover(const struct store *st, struct error *err)
{
	int rl = stream_root_lock(st->root, err);
	DIR *d;
	struct dirent *de;

	if (rl < 0)
		return -1;
	d = opendir(st->root);
	if (!d) {
		close(rl);
		return error_errno(err, errno, "cannot read VM store '%s'", st->root);
	}
	while ((de = readdir(d))) {
		bool imp = !strncmp(de->d_name, ".import-", 8), exp = !strncmp(de->d_name, ".export-", 8);
		char path[4400];
		int fd;
		if (!imp && !exp)
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->root, de->d_name);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {   /* nobody works in it any more */
			struct error e;
			if (imp)
				recover_import(path);
			else
				store_remove_tree(path, &e);
		}
		close(fd);
	}
	closedir(d);
	close(rl);
	return 0;
}
