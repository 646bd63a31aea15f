# Tern's two commands and friends. `make run` and `make test` install missing Debian
# packages first (scripts/install-deps.sh), so a fresh Debian machine needs nothing else.
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
LISTEN ?= 127.0.0.1:8080
DATA ?= ./data
CMAKE_FLAGS ?=

.PHONY: all deps test-deps build run test test-asan tsan fuzz fuzz-quick lint tidy bench install clean format

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERN_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j $(JOBS)

run: build
	./build/ternd --listen $(LISTEN) --data $(DATA)

# The test build: the layering and clang-tidy checks, -Werror, AddressSanitizer +
# UndefinedBehaviorSanitizer, every ctest test, then the libFuzzer harnesses briefly, then
# the threaded tests under ThreadSanitizer.
test: deps test-deps lint test-asan fuzz-quick tsan

# The one direction of includes (scripts/check-layers.sh) and the clang-tidy checks we
# hold to (.clang-tidy, scripts/tidy.sh).
lint: deps
	scripts/check-layers.sh
	scripts/tidy.sh build-tidy

tidy: deps
	scripts/tidy.sh build-tidy

test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=address $(CMAKE_FLAGS) >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DTERN_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp TERN_TSAN=1 \
	  ctest --output-on-failure -j $(JOBS) -L tsan

FUZZ_SECONDS ?= 10
fuzz-quick: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DTERN_FUZZ=ON -DTERN_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	scripts/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

fuzz:
	$(MAKE) fuzz-quick FUZZ_SECONDS=300

bench: build
	scripts/bench.sh build

install: build
	cmake --install build --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz build-tidy
