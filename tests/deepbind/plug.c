/* The library rp_open() finds through its caller's $ORIGIN/plug path. */
__attribute__((visibility("default"))) int plug_answer(void);

/* A value the test checks to know the right library was opened. */
int
plug_answer(void)
{
	return 42;
}
