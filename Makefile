# ngx_sfn top-level Makefile
#
#   make            engine library, task library, build/sfn, the nginx module
#   make check      engine and task unit tests (cmocka)
#   make conformance  the AWS-recorded ASL corpus through build/sfn
#   make jsonata    jsonata-js's JSONata corpus through build/sfn jsonata
#   make test       everything CI runs: check, conformance, prove (t/)
#   make prove SAN=1  the module and its libraries built with ASan + UBSan
#                   in build/san, loaded into Debian's nginx with the
#                   sanitizer runtime preloaded (t/lib/Sfn/Test.pm)
#   make fuzz       libFuzzer targets, a short smoke run each (FUZZ_TIME=s)
#   make deb        the Debian package libnginx-mod-http-sfn in build/deb

SHELL     := /bin/bash
CC        ?= cc
SAN       ?=
# a sanitized build never shares objects with the plain one
BUILD     := $(if $(SAN),build/san,build)
NGX_SRC   ?= /usr/share/nginx/src

ENGINE_PKGS := libcjson libpcre2-8
TASK_PKGS   := libcjson libpq libcurl libavformat libavcodec libavfilter libavutil \
               libswscale libswresample

WARN      := -Wall -Wextra -Wno-unused-parameter -Wpointer-arith
OPT       ?= -O2 -g
comma     := ,
SANFLAGS  := $(if $(SAN),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer)
CFLAGS    += -std=gnu11 $(OPT) -fPIC $(WARN) $(SANFLAGS)
LDFLAGS   += $(SANFLAGS)

# the engine sees cJSON only: an engine file including libpq or libav fails
ENGINE_CFLAGS := $(shell pkg-config --cflags $(ENGINE_PKGS))
TASK_CFLAGS   := $(shell pkg-config --cflags $(TASK_PKGS))

ENGINE_LIBS := $(shell pkg-config --libs $(ENGINE_PKGS)) -lm
TASK_LIBS   := $(shell pkg-config --libs $(TASK_PKGS)) -lpthread -lm

ENGINE_SRCS := $(wildcard engine/sfn_*.c)
ENGINE_OBJS := $(patsubst engine/%.c,$(BUILD)/engine/%.o,$(ENGINE_SRCS))
TASK_SRCS   := $(wildcard tasks/sfn_*.c)
TASK_OBJS   := $(patsubst tasks/%.c,$(BUILD)/tasks/%.o,$(TASK_SRCS))
CLI_SRCS    := $(wildcard cli/*.c)
CLI_OBJS    := $(patsubst cli/%.c,$(BUILD)/cli/%.o,$(CLI_SRCS))
TEST_SRCS   := $(wildcard engine/test/test_*.c)
TEST_BINS   := $(patsubst engine/test/%.c,$(BUILD)/test/%,$(TEST_SRCS))
TTEST_SRCS  := $(wildcard tasks/test/test_*.c)
TTEST_BINS  := $(patsubst tasks/test/%.c,$(BUILD)/test/tasks/%,$(TTEST_SRCS))
FUZZ_SRCS   := $(wildcard engine/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst engine/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
GLUE_SRCS   := config $(wildcard ngx_sfn_module/*.c ngx_sfn_module/*.h)

MODULE      := $(BUILD)/ngx_http_sfn_module.so
NGX_BUILD   := $(abspath $(BUILD)/nginx)

.PHONY: all check conformance jsonata test prove fuzz deb clean FORCE

all: $(BUILD)/libsfn.a $(BUILD)/libsfntasks.a $(BUILD)/sfn $(BUILD)/sfn-task \
     $(MODULE)

$(BUILD)/engine/%.o: engine/%.c $(wildcard engine/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ENGINE_CFLAGS) -Iengine -c $< -o $@

$(BUILD)/tasks/%.o: tasks/%.c $(wildcard tasks/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TASK_CFLAGS) -Itasks -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c $(wildcard engine/*.h tasks/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(TASK_CFLAGS) -Iengine -Itasks -c $< -o $@

$(BUILD)/libsfn.a: $(ENGINE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsfntasks.a: $(TASK_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sfn: $(CLI_OBJS) $(BUILD)/libsfntasks.a $(BUILD)/libsfn.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libsfntasks.a \
	    $(BUILD)/libsfn.a $(TASK_LIBS) $(ENGINE_LIBS)

$(BUILD)/gen/sfn_sql.c: tools/gen-sql.pl $(wildcard sql/*.sql)
	@mkdir -p $(dir $@)
	perl tools/gen-sql.pl $(wildcard sql/*.sql) > $@

$(BUILD)/libsfnsql.a: $(BUILD)/gen/sfn_sql.c
	$(CC) $(CFLAGS) $(TASK_CFLAGS) -c $< -o $(BUILD)/gen/sfn_sql.o
	@rm -f $@
	ar rcs $@ $(BUILD)/gen/sfn_sql.o

# runs one built-in task outside nginx: sfn-task RESOURCE INPUT.json
$(BUILD)/sfn-task: tasks/tool/sfn_task_tool.c $(BUILD)/libsfntasks.a
	$(CC) $(CFLAGS) $(TASK_CFLAGS) -Itasks $(LDFLAGS) -o $@ $< \
	    $(BUILD)/libsfntasks.a $(TASK_LIBS)

# the glue's file list is baked into nginx's Makefile: reconfigure on change
$(BUILD)/glue-srcs: FORCE
	@mkdir -p $(BUILD)
	@echo $(GLUE_SRCS) | cmp -s - $@ || echo $(GLUE_SRCS) > $@

# nginx's configure runs once, when config changes; later builds only make
$(NGX_BUILD)/Makefile: config $(BUILD)/glue-srcs
	@mkdir -p $(NGX_BUILD)
	cd $(NGX_SRC) && . ./conf_flags && SFN_BUILD=$(abspath $(BUILD)) ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS) $(SANFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC $(SANFLAGS)" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(NGX_BUILD) > $(NGX_BUILD)/configure.log 2>&1 \
	    || { tail -30 $(NGX_BUILD)/configure.log; exit 1; }

# config lists our libraries in ngx_module_deps: nginx's Makefile relinks
$(MODULE): $(NGX_BUILD)/Makefile $(GLUE_SRCS) $(BUILD)/libsfn.a \
           $(BUILD)/libsfntasks.a $(BUILD)/libsfnsql.a
	$(MAKE) -s -f $(NGX_BUILD)/Makefile -C $(NGX_SRC) modules
	@# a new inode: running nginx processes keep mapping the old one
	cp $(NGX_BUILD)/ngx_http_sfn_module.so $@.tmp && mv -f $@.tmp $@

$(BUILD)/test/%: engine/test/%.c $(wildcard engine/test/*.h) $(BUILD)/libsfn.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(ENGINE_CFLAGS) -Iengine $(LDFLAGS) -o $@ $< \
	    $(BUILD)/libsfn.a -lcmocka $(ENGINE_LIBS)

$(BUILD)/test/tasks/%: tasks/test/%.c $(wildcard tasks/test/*.h) \
                       $(BUILD)/libsfntasks.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itasks $(LDFLAGS) -o $@ $< $(BUILD)/libsfntasks.a \
	    -lcmocka $(TASK_LIBS)

check: $(TEST_BINS) $(TTEST_BINS)
	@set -e; for t in $(TEST_BINS) $(TTEST_BINS); do echo "== $$t"; $$t; done

conformance: $(BUILD)/sfn
	python3 tools/conformance.py

# ../shared/jsonata/run.py against tools/jsonata-known-failures.txt
jsonata: $(BUILD)/sfn
	SFN_RUNNER='$(BUILD)/sfn jsonata' python3 tools/jsonata.py

$(BUILD)/fuzz/%: engine/fuzz/%.c $(ENGINE_SRCS) $(wildcard engine/*.h engine/fuzz/*.h)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $(ENGINE_CFLAGS) -Iengine -o $@ $< $(ENGINE_SRCS) $(ENGINE_LIBS)

FUZZ_TIME ?= 20
fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
	    mkdir -p $(BUILD)/corpus/$$(basename $$f); \
	    echo "== $$f ($(FUZZ_TIME) s)"; \
	    $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
	        $(BUILD)/corpus/$$(basename $$f) engine/fuzz/seeds; \
	done

# t/ in two groups (PROVE_J=1: bottom up, one file at a time).  The
# files of T_PARALLEL assert no latency and wait on conditions, not on
# sleeps (but an outage's length): they run PROVE_J at a time (prove -j),
# the longest first, a test that burns CPU beside one that waits.  Then
# every other file runs alone: those that measure a latency or a timeout
# to the second (a neighbour's load would make them flake), and any new
# file until it is listed here.  Two full runs of make test passed this
# way on the 2-core machine shared with three other builds and test runs.
#
# SFN_TEST_SAN: Sfn::Test takes build/san's module and tools, preloads
# libasan into nginx and fails a test on any sanitizer report
PROVE_J    ?= 2
T_PARALLEL := 601 618 802 615 002 611 801 619 607 606 412 610 602 410 \
              604 501 504 820 403 406 307 609 512 306 603 823 503 712 \
              605 302 301 304 305 407 822 701 608 902 413 821 824 401 \
              405 617 612 620 711 803 903 908 905 411 404 101 003 001 \
              613 900 906 907 909 621
T_ALL      := $(sort $(wildcard t/*.t))
T_PAR      := $(foreach n,$(T_PARALLEL),$(wildcard t/$(n)-*.t))
T_ALONE    := $(filter-out $(T_PAR),$(T_ALL))
PROVE      := $(if $(SAN),SFN_TEST_SAN=1) prove -I t/lib --timer

ifeq ($(PROVE_J),1)
prove: all
	$(PROVE) $(T_ALL)
else
prove: all
	@rc=0; \
	echo "== prove -j$(PROVE_J): $(words $(T_PAR)) files, $(PROVE_J) at a time"; \
	$(PROVE) -j$(PROVE_J) $(T_PAR) || rc=1; \
	echo "== prove: $(words $(T_ALONE)) files, one at a time"; \
	$(PROVE) $(T_ALONE) || rc=1; \
	exit $$rc
endif

# one after the other, whatever -j says: their output stays readable
test: all
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory conformance
	$(MAKE) --no-print-directory prove

# dpkg-buildpackage writes the package beside its source directory: it
# builds a copy of the tree in build/deb/src, so build/deb holds the .deb
DEB_DIR := build/deb

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -cf - --exclude=./build --exclude=./var --exclude=./.git \
	    --exclude=node_modules --exclude=./t/.node --exclude=./t/artifacts . \
	    | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && DEB_BUILD_OPTIONS="parallel=2 $$DEB_BUILD_OPTIONS" \
	    dpkg-buildpackage -b -uc -us > ../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(BUILD)
