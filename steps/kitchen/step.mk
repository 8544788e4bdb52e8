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
SOURCES := server.c $(wildcard $(KITCHEN)/*.c) $(EXTRA_SOURCES)
HEADERS := $(wildcard $(KITCHEN)/*.h) $(wildcard *.h)

$(OUT)/pizzeria: $(SOURCES) $(HEADERS) Makefile $(KITCHEN)/step.mk
	@mkdir -p $(OUT)
	$(CC) $(WARNINGS) $(CFLAGS) $(EXTRA_CFLAGS) -I$(KITCHEN) -I. \
		-o $@ $(SOURCES) $(LDFLAGS) -pthread

.PHONY: clean
clean:
	rm -f pizzeria
