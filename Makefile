# The Asynchronous Pizzeria: build every step, test, run, read.
#
#   make                  build every step (steps/NN-name/pizzeria)
#   make run [STEP=01]    build and start a step (default: the newest)
#   make test             everything: unit tests, the protocol suite against
#                         every step, again under the sanitizers, exercises
#   make book             the HTML book and the EPUB in book/out/
#   make book-pdf         the book as a PDF, book/out/pizzeria.pdf
#   make book-shots       PNGs of the book's key pages, book/out/shots/
#   make exercise EX=...  check your solution to an exercise
#   make race             the same rush hour at every step, one table
#   make bench [QUICK=1]  the book's figures: CSV + SVG in book/figures/bench
#   make fuzz             fuzz the HTTP parser for FUZZ_SECONDS (60)
#   make asan             the AddressSanitizer + UBSan build, in build/asan/
#   make faults           the fault-injection build, in build/faults/
#   make valgrind         the protocol suite with every server under valgrind
#   make clean

STEP_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard steps/[0-9][0-9]-*/server.c))))
STEPS := $(notdir $(STEP_DIRS))
NEWEST := $(lastword $(STEPS))
CC ?= cc
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined

.PHONY: all run race bench test pytest-asan valgrind asan faults clang book book-pdf book-check book-shots fuzz exercise clean \
        compile_commands.json

all: $(STEPS:%=build-%) compile_commands.json

build-%:
	@$(MAKE) -s -C steps/$* CC="$(CC)"

asan: $(STEPS:%=asan-%)

asan-%:
	@$(MAKE) -s -C steps/$* CC="$(CC)" OUT=$(CURDIR)/build/asan/$* \
		CFLAGS="$(SAN_FLAGS)"

# The fault-injection build: system calls fail on demand, as
# PIZZERIA_FAULTS says (tests/faults/faults.c explains; tests/test_faults.py
# uses it). The linker sends the steps' calls through the wrappers;
# _FORTIFY_SOURCE would send some to checked variants they do not wrap.
FAULTS_C := $(CURDIR)/tests/faults/faults.c
FAULTS_WRAPPED := accept accept4 malloc calloc realloc read recv write send \
                  writev sendmsg epoll_ctl syscall

faults: $(STEPS:%=faults-%)

faults-%:
	@$(MAKE) -s -C steps/$* CC="$(CC)" OUT=$(CURDIR)/build/faults/$* \
		EXTRA_CFLAGS=-U_FORTIFY_SOURCE EXTRA_SOURCES=$(FAULTS_C) \
		LDFLAGS="$(FAULTS_WRAPPED:%=-Wl,--wrap=%)"

# Every step must build warning-free with clang as well as gcc.
clang:
	@if command -v clang >/dev/null; then \
		for s in $(STEPS); do $(MAKE) -s -C steps/$$s CC=clang \
			OUT=$(CURDIR)/build/clang/$$s || exit 1; done; \
		echo "clang: every step builds with -Wall -Wextra -Werror"; \
	else echo "clang not installed: skipping the clang build"; fi

# make run STEP=01 (or STEP=01-blocking): the number is enough.
run: all
	@step=$$(ls -d steps/$(or $(STEP),$(NEWEST))* 2>/dev/null | head -n 1); \
	if [ -z "$$step" ] || [ ! -f "$$step/server.c" ]; then \
		echo "no step '$(STEP)'; there are: $(STEPS)"; exit 2; fi; \
	echo "Starting $$step. Open the address below, or try:"; \
	echo "  curl http://127.0.0.1:$(or $(PORT),8080)/menu"; \
	echo "  curl -d pizza=margherita http://127.0.0.1:$(or $(PORT),8080)/order"; \
	echo "Stop it with Ctrl-C."; \
	exec $$step/pizzeria --port $(or $(PORT),8080) $(ARGS)

PYTEST := tests/tools/pytest

# The whole suite: what CI runs, and what you run before you commit.
# The suites run in PIZZERIA_JOBS processes (most of a test is waiting on
# a server); make has built everything first, so the tests do not build.
PIZZERIA_JOBS ?= 4
export PIZZERIA_JOBS

test:
	@tests/tools/need pytest xdist pandoc dot curl valgrind epubcheck weasyprint gnuplot chromium
	@$(MAKE) -s -j2 all asan clang faults
	@$(MAKE) -s -C tests/unit run
	PIZZERIA_NO_BUILD=1 $(PYTEST) tests
	PIZZERIA_NO_BUILD=1 PIZZERIA_BUILD=asan $(PYTEST) tests/test_protocol.py tests/test_readiness.py $(wildcard tests/test_step_*.py)

# The protocol suite and each step's own tests with every server under
# valgrind's memcheck (a minute or so a step; make test runs a short visit).
valgrind: all
	@tests/tools/need pytest
	PIZZERIA_BUILD=valgrind $(PYTEST) tests/test_protocol.py tests/test_readiness.py $(wildcard tests/test_step_*.py)

# The protocol suite and each step's own tests, against the sanitizer build.
pytest-asan: asan
	@tests/tools/need pytest
	PIZZERIA_BUILD=asan $(PYTEST) tests/test_protocol.py tests/test_readiness.py $(wildcard tests/test_step_*.py)

book:
	@tests/tools/need pandoc dot
	@$(MAKE) -s -C book

book-pdf:
	@tests/tools/need pandoc dot weasyprint
	@$(MAKE) -s -C book pdf

# Pictures of the book's key pages at a desktop and a phone width, taken
# in headless Chromium, for a person to look at.
book-shots:
	@tests/tools/need pandoc dot chromium
	@$(MAKE) -s -C book shots

# Every snippet, diff and link in the chapters resolves (no book written).
book-check:
	@tests/tools/need pandoc dot
	@$(MAKE) -s -C book check

# make exercise EX=01-request-timeout: run that exercise's check against
# your working copy (see chapters/exercises/). The check builds its step
# once, before its tests start in PIZZERIA_JOBS processes.
exercise:
	@tests/tools/need pytest
	@if [ ! -f chapters/exercises/$(EX)/check.py ]; then \
		echo "usage: make exercise EX=NAME, NAME one of:"; \
		for c in chapters/exercises/*/check.py; do \
			basename $$(dirname $$c) | sed 's/^/    /'; done; exit 2; fi
	$(PYTEST) -p no:cacheprovider -c chapters/exercises/pytest.ini chapters/exercises/$(EX)/check.py

# The same rush hour at every step: one table, in under two minutes.
race: all
	@$(MAKE) -s -C bench
	@python3 bench/race.py $(RACE_ARGS)

# The study behind the book's figures (bench/bench.py): under 15 minutes on
# 2 cores. QUICK=1 is the harness's own check, under 2 minutes, written to
# build/bench-quick/ (its numbers are not the book's).
bench: all
	@tests/tools/need gnuplot wrk nginx
	@$(MAKE) -s -C bench
	@python3 bench/bench.py $(if $(QUICK),--quick) $(BENCH_ARGS)

FUZZ_SECONDS ?= 60
fuzz:
	@$(MAKE) -s -C tests/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

compile_commands.json:
	@python3 tests/tools/compile_commands.py $(STEPS) > $@.$$$$ && mv $@.$$$$ $@

clean:
	for s in $(STEPS); do $(MAKE) -s -C steps/$$s clean; done
	rm -rf build book/out compile_commands.json
