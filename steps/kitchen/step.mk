# step.mk - how every step is built: its own server.c plus the kitchen.
#
#   make                 ./pizzeria
#   make OUT=dir         dir/pizzeria (the sanitizer build uses this)
#   make CC=clang EXTRA_CFLAGS=-fsanitize=address,undefined
#   make EXTRA_SOURCES=file.c LDFLAGS=-Wl,--wrap=malloc  (the fault build)
#
# One compiler call builds the whole server: a dozen small files take well
# under a second, and nothing can go stale between steps.

KITCHEN := ../kitchen
CC ?= cc
CFLAGS ?= -O2 -g
WARNINGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
OUT ?= .
# What every step links from the kitchen; before including this file a
# step names the cook it uses (KITCHEN_PARTS: blocking_cook, or event_cook
# and door) and any files of its own beside server.c (STEP_SOURCES). A
# step that reuses an earlier step's files names them in STEP_SOURCES by
# their path (../07-state-machine/loop.c) and that directory, for their
# headers, in STEP_INCLUDES.
KITCHEN_COMMON := closing http_parse kitchen log net options pizzeria response
SOURCES := server.c $(STEP_SOURCES) \
           $(patsubst %,$(KITCHEN)/%.c,$(KITCHEN_COMMON) $(KITCHEN_PARTS)) \
           $(EXTRA_SOURCES)
HEADERS := $(wildcard $(KITCHEN)/*.h) $(wildcard *.h) \
           $(foreach dir,$(STEP_INCLUDES),$(wildcard $(dir)/*.h))

# The new server is written under a name of its own and renamed into place:
# a pizzeria that is running keeps the binary it started from ("Text file
# busy" is what writing over it says), and nobody ever starts a half-written
# one. Two builds at once each finish their own and the last rename wins.
$(OUT)/pizzeria: $(SOURCES) $(HEADERS) Makefile $(KITCHEN)/step.mk
	@mkdir -p $(OUT)
	$(CC) $(WARNINGS) $(CFLAGS) $(EXTRA_CFLAGS) -I$(KITCHEN) -I. \
		$(STEP_INCLUDES:%=-I%) \
		-o $@.new.$$$$ $(SOURCES) $(LDFLAGS) -pthread && mv -f $@.new.$$$$ $@ \
		|| { rm -f $@.new.$$$$; exit 1; }

# The files a step is built from, and where its headers are, for tools
# (compile_commands.json).
.PHONY: sources includes clean
sources:
	@echo $(SOURCES)

includes:
	@echo $(STEP_INCLUDES)

clean:
	rm -f pizzeria pizzeria.new.*
