# Hull: a plain Makefile.  Objects go to build/, dependencies via -MMD -MP.
# `make` builds vmctl; `make test`, `make demo`, `make bench` install what
# they need first (make deps), so they work on a fresh Debian 12 machine.

CC	?= cc
BUILD	:= build
PKGS	:= jansson liburing libcap-ng libseccomp libxxhash liblz4 libzstd

WARN	:= -Wall -Wextra -Werror -Wshadow -Wcast-qual -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wundef -Wvla
HDRFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -I$(BUILD)/gen
BASEFLAGS := $(HDRFLAGS) -MMD -MP
CFLAGS	?= -O2 -g
HARDEN	:= -fstack-protector-strong -D_FORTIFY_SOURCE=2
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS	= $(PKG_LIBS) -laio -lpthread

# The VMM library: every .c in vmm/, devices/, virtio/ and vol/ (the volume
# library, docs/volumes.md says why it has a folder of its own); tests live
# in */tests/.
LIB_SRCS := $(wildcard vmm/*.c devices/*.c virtio/*.c vol/*.c)
GEN_SRCS := $(BUILD)/gen/dsdt.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/dsdt.o
SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/san/%.o) $(BUILD)/san/gen/dsdt.o

VMCTL_SRCS := $(wildcard tools/vmctl/*.c)
VMCTL_OBJS := $(VMCTL_SRCS:%.c=$(BUILD)/obj/%.o)

# Unit tests: one binary per */tests/test_*.c, built with ASan/UBSan, cmocka.
TEST_SRCS := $(wildcard vmm/tests/test_*.c devices/tests/test_*.c virtio/tests/test_*.c vol/tests/test_*.c tools/vmctl/tests/test_*.c)
TEST_BINS := $(patsubst %.c,$(BUILD)/test/%,$(notdir $(TEST_SRCS)))

.PHONY: all deps test unit-test guest-test demo bench clean check-headers kit lab
all: $(BUILD)/vmctl

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/dsdt.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(HARDEN) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c | $(BUILD)/gen/dsdt.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/san/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@

# The DSDT is ASL compiled by Debian's iasl into a C array at build time.
$(BUILD)/gen/dsdt.c: devices/dsdt.asl devices/aml2c.sh
	@mkdir -p $(dir $@)
	sh devices/aml2c.sh $< $@

$(BUILD)/libhull.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libhull-san.a: $(SAN_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/vmctl: $(VMCTL_OBJS) $(BUILD)/libhull.a
	$(CC) $(CFLAGS) -o $@ $(VMCTL_OBJS) $(BUILD)/libhull.a $(LDLIBS)

# Test binaries get a sanitized build of vmctl's sources too, minus main().
$(BUILD)/test/%: $(BUILD)/san/tests/%.o $(BUILD)/libhull-san.a
	@mkdir -p $(dir $@)
	$(CC) $(SANFLAGS) -o $@ $< $(BUILD)/libhull-san.a $(LDLIBS) -lcmocka

# Keep test objects between runs (make would delete them as intermediates).
.SECONDARY: $(TEST_BINS:$(BUILD)/test/%=$(BUILD)/san/tests/%.o)

$(BUILD)/san/tests/%.o:
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -c $(filter %/$*.c,$(TEST_SRCS)) -o $@

# The jail probe (vmm/tests/jail_probe.c): the VMM's jail with no VM in it,
# run by guest-tests/test_jail.py.  Not sanitized: ASan's own system calls
# would need a seccomp allowlist of their own.
$(BUILD)/test/jail_probe: vmm/tests/jail_probe.c $(BUILD)/libhull.a $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HDRFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libhull.a $(LDLIBS)

unit-test: deps $(TEST_BINS)
	@sh tools/run-unit.sh $(TEST_BINS)

# Everything; the last line is "total: N passed, N failed".
test: deps all check-headers $(TEST_BINS) $(BUILD)/test/jail_probe tiny kit lab
	@sh tools/test.sh

# libFuzzer targets, built with clang (Debian: clang libclang-rt-14-dev).
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 30
FUZZFLAGS	:= -O1 -g -fsanitize=fuzzer,address,undefined \
		   -fno-sanitize-recover=all -fno-omit-frame-pointer

# The spec reader alone: vmm/spec.c and jansson, nothing else.
$(BUILD)/fuzz/fuzz_spec: vmm/tests/fuzz_spec.c vmm/spec.c include/spec.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) $(PKG_CFLAGS) -o $@ \
	    vmm/tests/fuzz_spec.c vmm/spec.c $(PKG_LIBS)

# The control socket's request decoder alone: vmm/ctl_proto.c and jansson.
$(BUILD)/fuzz/fuzz_ctl: vmm/tests/fuzz_ctl.c vmm/ctl_proto.c include/ctl.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) $(PKG_CFLAGS) -o $@ \
	    vmm/tests/fuzz_ctl.c vmm/ctl_proto.c $(PKG_LIBS)

# The virtio-blk request parser alone.
$(BUILD)/fuzz/fuzz_blk_req: virtio/tests/fuzz_blk_req.c virtio/blk_req.c virtio/blk_req.h \
    virtio/iov.c virtio/iov.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) -o $@ virtio/tests/fuzz_blk_req.c \
	    virtio/blk_req.c virtio/iov.c

# The chain walk alone: virtio/virtq.c over vmm/gm.c, no KVM.
$(BUILD)/fuzz/fuzz_virtq: virtio/tests/fuzz_virtq.c virtio/virtq.c vmm/gm.c \
    include/virtq.h include/gm.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) -o $@ \
	    virtio/tests/fuzz_virtq.c virtio/virtq.c vmm/gm.c

# The virtio-net header and buffer checks alone.
$(BUILD)/fuzz/fuzz_net_req: virtio/tests/fuzz_net_req.c virtio/net_req.c \
    virtio/net_req.h include/virtq.h virtio/iov.c virtio/iov.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) -o $@ \
	    virtio/tests/fuzz_net_req.c virtio/net_req.c virtio/iov.c

# The virtio-net device itself (control and transmit queues) over a RAM
# image, on a tap in the fuzzer's own network namespace (needs root).
FUZZ_NET_DEV_SRCS := virtio/tests/fuzz_net_dev.c virtio/net.c \
	virtio/net_req.c virtio/iov.c virtio/virtq.c virtio/tbucket.c vmm/gm.c \
	vmm/ioloop.c devices/tap.c

$(BUILD)/fuzz/fuzz_net_dev: $(FUZZ_NET_DEV_SRCS) $(wildcard include/*.h virtio/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) -o $@ $(FUZZ_NET_DEV_SRCS) -luring -lpthread

# vol_receive on streams built from a recipe (checksums right, so the
# checks behind them are reached); the volume library and its libraries.
$(BUILD)/fuzz/fuzz_vol_recv: vol/tests/fuzz_vol_recv.c $(wildcard vol/*.c vol/*.h) include/vol.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(HDRFLAGS) $(FUZZFLAGS) -Ivol $(PKG_CFLAGS) -o $@ \
	    vol/tests/fuzz_vol_recv.c $(wildcard vol/*.c) $(PKG_LIBS) -lpthread

# Runs for FUZZ_SECONDS; new inputs go to build/, the seeds in the tree are
# only read.  A crash leaves crash-* in build/fuzz/ and fails the target.
.PHONY: fuzz
fuzz: deps $(BUILD)/fuzz/fuzz_spec $(BUILD)/fuzz/fuzz_ctl $(BUILD)/fuzz/fuzz_blk_req \
    $(BUILD)/fuzz/fuzz_virtq $(BUILD)/fuzz/fuzz_net_req $(BUILD)/fuzz/fuzz_net_dev \
    $(BUILD)/fuzz/fuzz_vol_recv
	@mkdir -p $(BUILD)/fuzz/corpus-spec $(BUILD)/fuzz/corpus-ctl \
	    $(BUILD)/fuzz/corpus-blk_req $(BUILD)/fuzz/corpus-virtq \
	    $(BUILD)/fuzz/corpus-net_req $(BUILD)/fuzz/corpus-net_dev \
	    $(BUILD)/fuzz/corpus-vol_recv
	cd $(BUILD)/fuzz && ./fuzz_spec -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4096 -print_final_stats=1 corpus-spec \
	    $(CURDIR)/vmm/tests/corpus/spec
	cd $(BUILD)/fuzz && ./fuzz_ctl -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=4200 -print_final_stats=1 corpus-ctl \
	    $(CURDIR)/vmm/tests/corpus/ctl
	cd $(BUILD)/fuzz && ./fuzz_blk_req -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=8192 -print_final_stats=1 corpus-blk_req \
	    $(CURDIR)/virtio/tests/corpus/blk_req
	cd $(BUILD)/fuzz && ./fuzz_virtq -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=16384 -print_final_stats=1 corpus-virtq \
	    $(CURDIR)/virtio/tests/corpus/virtq
	cd $(BUILD)/fuzz && ./fuzz_net_req -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=8192 -print_final_stats=1 corpus-net_req \
	    $(CURDIR)/virtio/tests/corpus/net_req
	cd $(BUILD)/fuzz && ./fuzz_net_dev -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=16384 -print_final_stats=1 corpus-net_dev \
	    $(CURDIR)/virtio/tests/corpus/net_dev
	cd $(BUILD)/fuzz && ./fuzz_vol_recv -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=2048 -print_final_stats=1 corpus-vol_recv \
	    $(CURDIR)/vol/tests/corpus/vol_recv

# Hull's virtio-blk model driven from a host thread (no KVM), beside fio.
BLK_HARNESS_SRCS := guest-tests/bench/blk_harness.c virtio/blk.c \
	virtio/blk_req.c virtio/iov.c virtio/virtq.c virtio/tbucket.c vmm/gm.c \
	vmm/ioloop.c devices/blk.c \
	devices/blk_uring.c devices/blk_aio.c devices/blk_sync.c \
	devices/blk_vol.c $(wildcard vol/*.c)

$(BUILD)/bench/blk_harness: $(BLK_HARNESS_SRCS) $(wildcard include/*.h virtio/*.h devices/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HDRFLAGS) -O2 -g $(HARDEN) $(PKG_CFLAGS) -o $@ \
	    $(BLK_HARNESS_SRCS) $(PKG_LIBS) -laio -lpthread

.PHONY: bench-blk
bench-blk: deps $(BUILD)/bench/blk_harness
	@sh guest-tests/bench/blk_bench.sh

# Volumes at host speed: the harness on a volume vs a raw file, clone
# time of a 10 GiB volume, send and receive MB/s (docs/bench.md).
$(BUILD)/bench/vol_bench: guest-tests/bench/vol_bench.c $(BUILD)/libhull.a
	@mkdir -p $(dir $@)
	$(CC) $(HDRFLAGS) -O2 -g $(PKG_CFLAGS) -o $@ $< $(BUILD)/libhull.a $(LDLIBS)

.PHONY: bench-vol
bench-vol: deps $(BUILD)/bench/blk_harness $(BUILD)/bench/vol_bench
	@sh guest-tests/bench/vol_bench.sh

# Hull's virtio-net model driven from a host thread (no KVM) on a tap in a
# network namespace of its own, beside raw tap reads and writes.
NET_HARNESS_SRCS := guest-tests/bench/net_harness.c virtio/net.c \
	virtio/net_vhost.c virtio/net_req.c virtio/iov.c virtio/virtq.c \
	virtio/tbucket.c vmm/gm.c vmm/ioloop.c devices/tap.c

$(BUILD)/bench/net_harness: $(NET_HARNESS_SRCS) $(wildcard include/*.h virtio/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(HDRFLAGS) -O2 -g $(HARDEN) -o $@ $(NET_HARNESS_SRCS) -luring -lpthread

.PHONY: bench-net
bench-net: deps $(BUILD)/bench/net_harness
	@sh guest-tests/bench/net_bench.sh

# Hull beside QEMU (docs/bench.md); prints medians and ratios.  The device
# harness runs here; the guests run in the lab where /dev/kvm lacks VMX/SVM.
bench: deps all tiny kit lab bench-blk bench-net bench-vol
	@sh guest-tests/run-bench.sh

# Boot a Debian guest and show its console (in the lab where needed).
demo: deps all kit lab
	@sh guest-tests/run-demo.sh

# Every header compiles on its own.
check-headers:
	@for h in include/*.h; do \
	  echo "#include \"$$(basename $$h)\"" | $(CC) $(HDRFLAGS) -fsyntax-only -x c - || exit 1; \
	done; echo "headers: ok"

# Debian packages every target needs.  Idempotent and quick when installed.
DEB_PKGS := build-essential pkg-config libjansson-dev liburing-dev libaio-dev \
	    libcap-ng-dev libseccomp-dev libxxhash-dev libzstd-dev liblz4-dev \
	    libcmocka-dev acpica-tools qemu-system-x86 busybox-static iperf3 fio \
	    cpio zstd xz-utils kmod e2fsprogs iproute2 procps python3 bc clang libclang-rt-14-dev
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing $$missing"; \
	    if [ "$$(id -u)" != 0 ]; then echo "deps: run as root (apt-get)"; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The guest kit, the lab and the guest tests (guest-tests/guest.mk).
-include guest-tests/guest.mk

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The tiny guest payload (guest-tests/tiny): a bzImage of a few KiB.
TINY_CFLAGS := -std=c11 -O2 -ffreestanding -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
	-Wall -Wextra -Werror
$(BUILD)/tiny/tiny.bzImage: guest-tests/tiny/head.S guest-tests/tiny/tiny.c guest-tests/tiny/tiny.ld
	@mkdir -p $(dir $@)
	$(CC) $(TINY_CFLAGS) -c guest-tests/tiny/head.S -o $(BUILD)/tiny/head.o
	$(CC) $(TINY_CFLAGS) -c guest-tests/tiny/tiny.c -o $(BUILD)/tiny/tiny.o
	ld -nostdlib -no-pie -T guest-tests/tiny/tiny.ld -o $@ $(BUILD)/tiny/head.o $(BUILD)/tiny/tiny.o
tiny: $(BUILD)/tiny/tiny.bzImage
