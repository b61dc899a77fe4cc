/* control requests: a fake VMM (a child holding run.lock) answers them. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "safeio.h"
#include "unit.h"

/* The child: hold run.lock, take each request and answer with answers[i]
 * written raw into <id>.done (as a broken or foreign VMM might). */
static void fake_vmm(const char *vmdir, const char *const *answers, int n, int ready_fd,
		     int done_fd)
{
	char path[4300];
	sigset_t set;
	int sig, fd;

	sigemptyset(&set);
	sigaddset(&set, CONTROL_SIGNAL);
	sigprocmask(SIG_BLOCK, &set, NULL);
	snprintf(path, sizeof(path), "%s/run.lock", vmdir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(ready_fd, "r", 1) != 1)
		_exit(1);
	for (int i = 0; i < n; i++) {
		struct control_req r;
		struct error e;
		sigwait(&set, &sig);
		if (control_next(vmdir, &r, &e) != 1)
			_exit(2);
		snprintf(path, sizeof(path), "%s/run/requests/%s.done", vmdir, r.id);
		if (io_atomic_write(path, answers[i], strlen(answers[i]), 0600, &e) < 0)
			_exit(3);
	}
	char c;
	if (read(done_fd, &c, 1) < 0) /* hold run.lock until the parent is done */
		_exit(4);
	_exit(0);
}

TEST(control_answers_checked)
{
	static const char *const answers[] = { "0 paused\n", "3 no such thing\n",
					       "paused\n", "\n", "7x\n" };
	const int n = (int)(sizeof(answers) / sizeof(answers[0]));
	char dir[512], path[600], reply[256], pidbuf[32];
	int ready[2], done[2];
	struct error e;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s", unit_tmpdir());
	snprintf(path, sizeof(path), "%s/run", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/requests", dir);
	mkdir(path, 0700);
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(done[1]);
		fake_vmm(dir, answers, n, ready[1], done[0]);
	}
	close(ready[1]);
	close(done[0]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	snprintf(path, sizeof(path), "%s/run/pid", dir);
	snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)pid);
	CHECK(io_atomic_write(path, pidbuf, strlen(pidbuf), 0600, &e) == 0);

	CHECK(control_request(dir, "pause", NULL, 5000, reply, sizeof(reply), &e) == 0);
	CHECK_STR(reply, "paused");
	CHECK(control_request(dir, "frob", NULL, 5000, reply, sizeof(reply), &e) == 3);
	CHECK_STR(reply, "no such thing");
	/* an answer without a status number is not success (it was read as 0) */
	for (int i = 2; i < n; i++) {
		CHECK(control_request(dir, "pause", NULL, 5000, reply, sizeof(reply), &e) == -1);
		CHECK(strstr(e.msg, "malformed answer from the VMM") != NULL);
	}
	close(done[1]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(ready[0]);
}
