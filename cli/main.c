/*
 * ratetap: the command line tool.  Dispatches to the commands in run.c,
 * status.c, doctor.c and enable.c.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "report.h"

const char *cli_progname = "ratetap";

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ratetap [--control PATH] COMMAND [ARG...]\n"
	    "       ratetap --help | --version\n"
	    "\n"
	    "See how much of your Anthropic rate limits you have used.\n"
	    "\n"
	    "Commands:\n"
	    "  run [--] CMD [ARG...]   run CMD with the ratetap shim "
	    "preloaded, starting\n"
	    "                          ratetapd when none answers\n"
	    "  status [--json]         show windows, tokens, programs and "
	    "models\n"
	    "  doctor PROGRAM          can ratetap see PROGRAM's traffic, "
	    "and if not, why\n"
	    "  doctor --pid PID        the same for a running process\n"
	    "  doctor                  check the whole setup\n"
	    "  enable [--dry-run]      tap every program started from your "
	    "shells\n"
	    "  disable [--dry-run]     undo `ratetap enable`\n"
	    "  statusline              Claude Code's statusLine command "
	    "(--install,\n"
	    "                          --uninstall)\n"
	    "  report daily|weekly|monthly|windows [--by model|program|"
	    "project]\n"
	    "         [--since DATE] [--until DATE] [--json|--csv]\n"
	    "                          history from the ledger\n"
	    "  watch [--once]          a live full-screen view\n"
	    "  help                    this text\n"
	    "\n"
	    "Options:\n"
	    "  --control PATH          the daemon's control socket (default\n"
	    "                          $RATETAP_CONTROL or "
	    "$XDG_RUNTIME_DIR/ratetap/control.sock)\n"
	    "  --help, --version\n"
	    "\n"
	    "`ratetap COMMAND --help` describes each command; see "
	    "ratetap(1).\n");
}

/*
 * Make sure descriptors 0-2 are open, so that no file or socket opened
 * later (the daemon's log, a pipe) lands on one of them by accident.
 */
static int
sane_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= STDERR_FILENO)
		;
	if (fd == -1)
		return -1;
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *control = NULL, *cmd;
	int c, rc;

	if (sane_stdio() == -1)
		return 1;
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			control = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ratetap %s\n", RATETAP_VERSION);
			return 0;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_errx("no command given; try `ratetap --help`");
		return CLI_EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "doctor") == 0 && argc == 1)
		return cli_setup_check(control);
	if (strcmp(cmd, "doctor") == 0)
		return cli_doctor_main(argc, argv);
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0)
		return cli_enable_main(argc, argv);
	if (strcmp(cmd, "report") == 0)
		return cli_report_main(argc, argv);
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "statusline") != 0 && strcmp(cmd, "watch") != 0) {
		cli_errx("unknown command '%s'; try `ratetap --help`", cmd);
		return CLI_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_errx("cannot initialise libcurl");
		return 1;
	}
	if (strcmp(cmd, "run") == 0)
		rc = cli_run_main(argc, argv, control);
	else if (strcmp(cmd, "statusline") == 0)
		rc = cli_statusline_main(argc, argv, control);
	else if (strcmp(cmd, "watch") == 0)
		rc = cli_watch_main(argc, argv, control);
	else
		rc = cli_status_main(argc, argv, control);
	curl_global_cleanup();
	return rc;
}
