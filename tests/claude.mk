# Unit tests of the Claude Code sources: the transcripts' line parser and
# dedupe (daemon/transcripts.c) and the statusline body (statusline.c).
CLAUDE_OBJS = $(B)/obj/daemon/transcripts.o $(B)/obj/daemon/statusline.o \
              $(B)/obj/daemon/loop.o $(TRK_OBJS)

CHECK_OBJS_transcripts = $(CLAUDE_OBJS)
CHECK_LIBS_transcripts = $(CJSON_LIBS)
CHECK_OBJS_statusline  = $(CLAUDE_OBJS)
CHECK_LIBS_statusline  = $(CJSON_LIBS)
