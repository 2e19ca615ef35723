/*
 * Unit tests of the HTTP endpoints' connection policy (daemon/control.c):
 * who loses a connection when one client hogs them or the limit is
 * reached, request deadlines, and a request served through the loop.
 * Static functions are reached by including the module.
 */
#include <check.h>
#include <sys/un.h>

#include "../daemon/control.c"

static struct ctl *
fake_ctl(void)
{
	struct ctl *c = calloc(1, sizeof(*c));
	int i;

	ck_assert_ptr_nonnull(c);
	for (i = 0; i < CTL_MHD_LIMIT; i++)
		c->conns[i].fd = -1;
	return c;
}

/* A connection of client pid in slot i, since ms, with its peer end in
 * *peer (readable EOF once dropped). */
static void
add_conn(struct ctl *c, int i, int pid, int64_t since, int *peer)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c->conns[i].fd = sv[0];
	c->conns[i].since = since;
	c->conns[i].who.family = AF_UNIX;
	memcpy(c->conns[i].who.key, &pid, sizeof(pid));
	c->nconns++;
	if (peer != NULL)
		*peer = sv[1];
}

static void
free_fake(struct ctl *c)
{
	int i;

	for (i = 0; i < CTL_MHD_LIMIT; i++)
		if (c->conns[i].fd != -1)
			close(c->conns[i].fd);
	free(c);
}

static struct ctl_client
client(int pid)
{
	struct ctl_client w;

	memset(&w, 0, sizeof(w));
	w.family = AF_UNIX;
	memcpy(w.key, &pid, sizeof(pid));
	return w;
}

START_TEST(a_client_over_its_share_loses_its_own_oldest_connection)
{
	struct ctl *c = fake_ctl();
	struct ctl_client w = client(7);
	int i;

	add_conn(c, 0, 99, 1, NULL);		/* someone else, oldest */
	for (i = 1; i <= CTL_PER_CLIENT; i++)
		add_conn(c, i, 7, 100 + i, NULL);
	ck_assert_ptr_nonnull(make_room(c, &w));
	ck_assert_int_eq(c->conns[1].dropped, 1);	/* 7's oldest */
	ck_assert_int_eq(c->conns[0].dropped, 0);
	for (i = 2; i <= CTL_PER_CLIENT; i++)
		ck_assert_int_eq(c->conns[i].dropped, 0);
	ck_assert_uint_eq(c->st.per_client, 1);
	ck_assert_uint_eq(c->st.evicted, 0);
	free_fake(c);
}
END_TEST

START_TEST(at_the_limit_the_oldest_connection_of_all_makes_room)
{
	struct ctl *c = fake_ctl();
	struct ctl_client w = client(100000);
	struct ctl_conn *slot;
	int i;

	/* many clients of a few connections each, the oldest in the middle */
	for (i = 0; i < CTL_CONN_MAX; i++)
		add_conn(c, i, i / 8, i == 100 ? 5 : 1000 + i, NULL);
	slot = make_room(c, &w);
	ck_assert_ptr_nonnull(slot);
	ck_assert_int_eq(slot->fd, -1);
	ck_assert_int_eq(c->conns[100].dropped, 1);
	for (i = 0; i < CTL_CONN_MAX; i++)
		if (i != 100)
			ck_assert_int_eq(c->conns[i].dropped, 0);
	ck_assert_uint_eq(c->st.evicted, 1);
	free_fake(c);
}
END_TEST

START_TEST(no_free_slot_while_drops_are_in_flight_refuses_the_newcomer)
{
	struct ctl *c = fake_ctl();
	struct ctl_client w = client(1);
	int i;

	for (i = 0; i < CTL_MHD_LIMIT; i++) {
		add_conn(c, i, 1000 + i, i, NULL);
		c->conns[i].dropped = i < CTL_ACCEPT_BURST;
	}
	ck_assert_ptr_null(make_room(c, &w));
	free_fake(c);
}
END_TEST

START_TEST(a_request_past_its_deadline_is_dropped_one_being_answered_is_not)
{
	struct ctl *c = fake_ctl();
	int64_t next;
	int peer[3];
	char ch;

	add_conn(c, 0, 1, 0, &peer[0]);			/* late */
	add_conn(c, 1, 2, 0, &peer[1]);			/* late, answering */
	c->conns[1].answering = 1;
	add_conn(c, 2, 3, 4000, &peer[2]);		/* 1 s left at 8000 */
	next = sweep(c, CTL_REQUEST_MS + 3000);
	ck_assert_int_eq(next, 1000);
	ck_assert_int_eq(c->conns[0].dropped, 1);
	ck_assert_int_eq(c->conns[1].dropped, 0);
	ck_assert_int_eq(c->conns[2].dropped, 0);
	ck_assert_uint_eq(c->st.timed_out, 1);
	/* the peer of the dropped one sees the end */
	ck_assert_int_eq(read(peer[0], &ch, 1), 0);
	close(peer[0]);
	close(peer[1]);
	close(peer[2]);
	free_fake(c);
}
END_TEST

static int
status_cb(void *arg, char **out, size_t *len)
{
	(void)arg;
	*out = strdup("{\n}");
	*len = strlen(*out);
	return 0;
}

static int
metrics_cb(void *arg, char **out, size_t *len)
{
	(void)arg;
	*out = strdup("ratetap_x 1\n");
	*len = strlen(*out);
	return 0;
}

/* Serve one request on a listening AF_UNIX socket through the loop. */
START_TEST(a_request_is_served_through_the_loop)
{
	struct ctl_handlers h = { status_cb, metrics_cb, NULL, NULL, NULL };
	static const char req[] = "GET /v1/health HTTP/1.0\r\n\r\n";
	char dir[] = "/tmp/rt-ctl-XXXXXX", path[64], err[256], buf[512];
	struct sockaddr_un sun;
	struct ctl_stats st;
	struct loop *l;
	struct ctl *c;
	size_t got = 0;
	int lfd, cfd, i;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	ck_assert_ptr_nonnull(l = loop_new());
	c = ctl_start(l, lfd, CTL_FULL, &h, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	ck_assert_int_eq(write(cfd, req, sizeof(req) - 1),
	    (ssize_t)sizeof(req) - 1);
	for (i = 0; i < 200; i++) {
		ck_assert_int_ge(loop_once(l, 10), 0);
		n = read(cfd, buf + got, sizeof(buf) - 1 - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.0 200", 12) == 0 ||
	    strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\r\n\r\nok\n"));
	ctl_get_stats(c, &st);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.foreign, 0);
	close(cfd);
	ctl_stop(c);
	loop_free(l);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc,
	    a_client_over_its_share_loses_its_own_oldest_connection);
	tcase_add_test(tc, at_the_limit_the_oldest_connection_of_all_makes_room);
	tcase_add_test(tc,
	    no_free_slot_while_drops_are_in_flight_refuses_the_newcomer);
	tcase_add_test(tc,
	    a_request_past_its_deadline_is_dropped_one_being_answered_is_not);
	tcase_add_test(tc, a_request_is_served_through_the_loop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(control_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
