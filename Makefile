# hopwire: `make run` (set-up, build, main job) and `make check` (set-up, build, every test).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX ?= /usr/local
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 300

.PHONY: all setup build build-asan build-tsan build-fuzz fuzz check-fuzz run check check-fast clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHOP_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

build-tsan: setup
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOP_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS)

# libFuzzer targets of tests/fuzz (clang, ASan + UBSan; docs/fuzzing.md).
build-fuzz: setup
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOP_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)

# Every target for FUZZ_TIME seconds, one after another; non-zero on any finding.
fuzz: build-fuzz
	@FUZZ_BUILD=$(FUZZ_BUILD) bash scripts/fuzz.sh run $(FUZZ_TIME)

# The committed corpora replayed, then ~5 s of fuzzing per target (part of `make check`).
check-fuzz: build-fuzz
	@echo "== fuzz targets (corpus replay + 5 s each) =="
	@FUZZ_BUILD=$(FUZZ_BUILD) bash scripts/fuzz.sh check 5

# The main job on its embedded default (SQLite): Flyte's event path, every design side by
# side: executor -> events-proxy -> run-service -> store, events/s, p50/p99, dials, lost.
run: build
	$(BUILD)/hopwire demo --plot $(BUILD)/demo.svg

# Every test, in the normal build, then the fuzz corpora replayed (+ a few seconds of fuzzing
# per target), then every test again under ThreadSanitizer (64 threads on one client, answers
# from foreign threads, the waker) and under AddressSanitizer + UBSan.
# ctest's summary of the last pass ends the output.
check: build build-tsan build-asan
	@echo "== tests (release build) =="
	@cd $(BUILD) && ctest --output-on-failure -j2
	@$(MAKE) --no-print-directory check-fuzz
	@echo "== tests (ThreadSanitizer build) =="
	@cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j2
	@echo "== tests (AddressSanitizer + UBSan build) =="
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j2

# The CLI, libhopwire, headers, hopwire.pc, the CMake package, man pages and docs under
# $(PREFIX), staged under $(DESTDIR) if set (docs/install.md). uninstall removes what the last
# install from $(BUILD) recorded (install_manifest.txt; give the same DESTDIR).
.PHONY: install uninstall
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

uninstall:
	@DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(BUILD)/install_manifest.txt -P cmake/uninstall.cmake

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
