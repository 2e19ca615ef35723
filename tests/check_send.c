/*
 * Unit tests of the shim's sender (shim/send.c) behind the hooks: the
 * journal and when it is not written, datagrams to an older daemon, drops
 * counted and reported once, and a forked child's own pid, sequence and
 * drops.
 */
#include "shimtest.h"

/* The descriptor the shim keeps for the journal, -1 if none. */
static int
journal_fd_of_shim(void)
{
	char link[64], target[256];
	ssize_t n;
	int fd;

	for (fd = 3; fd < 4096; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "events.journal") != NULL)
			return fd;
	}
	return -1;
}

START_TEST(a_journal_descriptor_the_application_replaced_is_not_written)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char other[128], buf[16];
	int jfd, ofd;

	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	jfd = journal_fd_of_shim();
	ck_assert_int_ge(jfd, 3);
	/* the application puts a file of its own at that number */
	snprintf(other, sizeof(other), "%s/app.file", sockdir);
	ofd = open(other, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(ofd, 0);
	ck_assert_int_eq(dup2(ofd, jfd), jfd);
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	/* nothing written into the application's file, its fd left open */
	ck_assert_int_eq(pread(ofd, buf, sizeof(buf), 0), 0);
	ck_assert_int_ne(fcntl(jfd, F_GETFD), -1);
	close(jfd);
	close(ofd);
	unlink(other);
	/* closed by the application: opened again */
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_events(ev, 2), 1);
}
END_TEST

START_TEST(a_daemon_older_than_the_journal_gets_datagrams)
{
	struct fake_easy e;
	struct rtp_event ev[2];
	char buf[2048], jp[sizeof(jpath)];
	struct stat st;

	/* a bound socket and no marker: a daemon that reads only datagrams */
	reader_mark(0);
	easy_init(&e, "http://api.test/v1/messages", json_body);
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(recv(rxfd, buf, sizeof(buf), MSG_DONTWAIT),
	    (ssize_t)sizeof(struct rtp_event));
	ck_assert_int_eq(rt_journal_path(sockpath, jp, sizeof(jp)), 0);
	ck_assert(stat(jp, &st) == -1 || st.st_size == 0);
	/* that daemon gone (its socket stale): the journal keeps the event */
	close(rxfd);
	rxfd = -1;
	e.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&e), CURLE_OK);
	ck_assert_int_eq(rx_journal(ev, 0, 2), 1);
	ck_assert_uint_eq(send_dropped(), 0);
}
END_TEST

START_TEST(drops_are_counted_and_reported_once)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	setenv("RATETAP_SOCKET", "/nonexistent-dir/x.sock", 1);
	cfg_load();
	curl_easy_perform((CURL *)&a);
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	ck_assert_uint_eq(send_dropped(), 2);
	setenv("RATETAP_SOCKET", sockpath, 1);
	cfg_load();
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	a.delivered = 0;
	curl_easy_perform((CURL *)&a);
	ck_assert_int_eq(rx_events(ev, 2), 2);
	ck_assert_uint_eq(ev[0].dropped, 2);
	ck_assert_uint_eq(ev[0].seq, 3);
	ck_assert_uint_eq(ev[1].dropped, 0);
	ck_assert_uint_eq(ev[1].seq, 4);
	ck_assert_uint_eq(send_dropped(), 0);
}
END_TEST

START_TEST(a_forked_child_reports_its_own_pid_and_sequence)
{
	struct fake_easy a;
	struct rtp_event ev[4];
	pid_t pid;
	int status, n;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	curl_easy_perform((CURL *)&a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		a.delivered = 0;
		app_len = 0;
		_exit(curl_easy_perform((CURL *)&a) == CURLE_OK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = rx_events(ev, 4);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_int_eq(ev[1].pid, pid);
	ck_assert_uint_eq(ev[1].seq, 1);
}
END_TEST

/* ---- drops at the end of a burst ------------------------------------------ */

/* Fill the test socket's queue until the kernel refuses more. */
static int
rx_fill(void)
{
	struct sockaddr_un sun;
	int fd, n = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	while (sendto(fd, "x", 1, 0, (struct sockaddr *)&sun,
	    sizeof(sun)) == 1)
		ck_assert_int_lt(++n, 100000);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
	return n;
}

/* Make the journal unwritable (a directory in its place), so that events
 * go by datagram and the drop path is reached; 0 undoes it. */
static void
journal_block(int on)
{
	char jp[sizeof(jpath)];

	ck_assert_int_eq(rt_journal_path(sockpath, jp, sizeof(jp)), 0);
	if (on) {
		unlink(jp);
		ck_assert_int_eq(mkdir(jp, 0700), 0);
	} else
		ck_assert_int_eq(rmdir(jp), 0);
}

static int
rx_drain_raw(void)
{
	char buf[2048];
	int n = 0;

	while (recv(rxfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

START_TEST(drops_left_at_exit_go_in_one_drops_only_datagram)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	int filled;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	journal_block(1);
	filled = rx_fill();
	ck_assert_int_gt(filled, 0);
	/* the queue stays full: each event is dropped after its retries */
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	a.delivered = 0;
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_uint_eq(send_dropped(), 2);
	ck_assert_int_eq(rx_drain_raw(), filled);

	ck_assert_int_eq(send_report_drops(sockpath, "burst"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].flags, RTP_F_DROPS_ONLY);
	ck_assert_uint_eq(ev[0].dropped, 2);
	ck_assert_uint_eq(ev[0].seq, 3);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_uint_eq(ev[0].http_status, 0);
	ck_assert_uint_eq(ev[0].usage_state, RTP_USAGE_NONE);
	ck_assert_str_eq(ev[0].prog, "burst");
	ck_assert_str_eq(ev[0].host, "");
	ck_assert_uint_eq(send_dropped(), 0);
	/* nothing left: nothing sent */
	ck_assert_int_eq(send_report_drops(sockpath, "burst"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	journal_block(0);
}
END_TEST

START_TEST(a_failed_drops_only_datagram_keeps_the_count)
{
	struct fake_easy a;
	struct rtp_event ev[2];

	easy_init(&a, "http://api.test/v1/messages", json_body);
	journal_block(1);
	(void)rx_fill();
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_int_eq(send_report_drops(sockpath, "x"), -1);
	ck_assert_uint_eq(send_dropped(), 2);
	(void)rx_drain_raw();
	journal_block(0);
	/* the journal takes it again */
	ck_assert_int_eq(send_report_drops(sockpath, "x"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_uint_eq(ev[0].dropped, 2);
}
END_TEST

START_TEST(a_forked_child_does_not_report_its_parents_drops)
{
	struct fake_easy a;
	struct rtp_event ev[2];
	pid_t pid;
	int status;

	easy_init(&a, "http://api.test/v1/messages", json_body);
	setenv("RATETAP_SOCKET", "/nonexistent/ratetap/in.sock", 1);
	cfg_load();
	ck_assert_int_eq(curl_easy_perform((CURL *)&a), CURLE_OK);
	ck_assert_uint_eq(send_dropped(), 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(send_dropped() == 0 &&
		    send_report_drops(sockpath, "child") == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(rx_events(ev, 2), 0);
	ck_assert_int_eq(send_report_drops(sockpath, "parent"), 0);
	ck_assert_int_eq(rx_events(ev, 2), 1);
	ck_assert_int_eq(ev[0].pid, getpid());
	ck_assert_uint_eq(ev[0].dropped, 1);
}
END_TEST

static Suite *
send_suite(void)
{
	Suite *s = suite_create("send");
	TCase *tc = tcase_create("send");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc,
	    a_journal_descriptor_the_application_replaced_is_not_written);
	tcase_add_test(tc, a_daemon_older_than_the_journal_gets_datagrams);
	tcase_add_test(tc, drops_are_counted_and_reported_once);
	tcase_add_test(tc, a_forked_child_reports_its_own_pid_and_sequence);
	tcase_add_test(tc, drops_left_at_exit_go_in_one_drops_only_datagram);
	tcase_add_test(tc, a_failed_drops_only_datagram_keeps_the_count);
	tcase_add_test(tc, a_forked_child_does_not_report_its_parents_drops);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(send_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
