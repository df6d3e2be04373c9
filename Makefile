# hopwire: `make run` (set-up, build, main job) and `make check` (set-up, build, every test).
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all setup build build-asan run check check-fast clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHOP_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# The main job on its embedded default: the dials / throughput / p99 experiment.
run: build
	$(BUILD)/hopwire bench --mode all --concurrency 200 --dial-cost 1ms --server-delay 1ms --duration 10s

# Every test, in the normal build and again under AddressSanitizer + UBSan.
# ctest's summary of the sanitizer pass ends the output.
check: build build-asan
	@echo "== tests (release build) =="
	@cd $(BUILD) && ctest --output-on-failure -j2
	@echo "== tests (AddressSanitizer + UBSan build) =="
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j2

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
