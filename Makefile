# A thin wrapper around CMake. The two commands of the README:
#   make demo   installs what is missing, builds, runs a 4-rank allreduce benchmark
#   make test   installs what is missing, builds, runs every test
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build demo test test-fast test-asan test-tsan fuzz soak bench-sweep bench-compare install clean

all: build

deps:
	@./tools/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/tools/mrdrun/mrdrun -np 4 $(BUILD)/benchmarks/all_reduce_perf -b 8 -e 64M -f 4 -c 1

# The multi-process tests run after the unit tests, one at a time (each
# loads both cores), and get a second try when they fail (timing-bound on
# a loaded 2-core machine; README, Tests): one that fails twice fails
# make test.
test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j 2 -LE multiproc
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j 1 -L multiproc --repeat until-pass:2

# libFuzzer targets (tests/fuzz): the bootstrap's parsers and the
# transport's frame parser, built with clang, ASan and UBSan in their own
# build tree, each run FUZZ_SECONDS from the seed corpus. CI runs it.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz:
	@./tools/install-deps.sh fuzz
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DMRD_FUZZ=ON -DMRD_BUILD_TESTS=OFF -DMRD_BUILD_BENCHMARKS=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target bootstrap_fuzz frame_fuzz
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Sanitizer builds (issue 6), each in its own tree; CI runs both:
#   make test-asan   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
#   make test-tsan   ThreadSanitizer (build-tsan/)
# tools/sanitized-tests.sh runs the unit and multi-process tests but for
# those timed against the clock and the algorithm-forcing copies of the
# collectives matrix (see the script), retries a test that fails once, and
# fails when any sanitizer report appears in any run, retried or not.
# (-O1 -g1: a third of -O2 -g's compile time with the sanitizers, line
# numbers in the reports still.)
# The collectives matrix (every collective x 12 types x 1-8 ranks) thinned
# to keep CI within its time: ASan keeps one type of each element size and
# the 16-bit and 8-bit floats (6 of 12), TSan float and half (2 of 12).
ASAN_THIN = CollectivesTest.*_(Uint8|Int32|Uint32|Int64|Uint64|Float8e4m3)_
TSAN_THIN = CollectivesTest.*_(Int8|Uint8|Int32|Uint32|Int64|Uint64|Float64|Bfloat16|Float8e4m3|Float8e5m2)_
# (And HangFork: its child starts threads after a fork of a threaded
# process, which TSan does not support.)
TSAN_SKIP = $(TSAN_THIN)|^HangFork\.
SAN_CMAKE = -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="-O1 -g1" -DCMAKE_CXX_FLAGS="-O1 -g1"
test-asan: deps
	cmake -S . -B build-asan $(SAN_CMAKE) -DMRD_SANITIZE=address,undefined
	cmake --build build-asan -j $(JOBS)
	SAN_EXTRA_EXCLUDE='$(ASAN_THIN)' tools/sanitized-tests.sh build-asan
test-tsan: deps
	cmake -S . -B build-tsan $(SAN_CMAKE) -DMRD_SANITIZE=thread
	cmake --build build-tsan -j $(JOBS)
	SAN_EXTRA_EXCLUDE='$(TSAN_SKIP)' SAN_MULTIPROC=0 tools/sanitized-tests.sh build-tsan

# The soak (benchmarks/soak, README "Soak"): random collectives with every
# element checked, SOAK_SECONDS on SOAK_NP ranks under mrdrun; builds only
# what it needs. Faults through SOAK_ARGS, e.g.
#   make soak SOAK_SECONDS=60 SOAK_ARGS="--fault kill --trials 3"
SOAK_SECONDS ?= 120
SOAK_NP ?= 4
SOAK_ARGS ?=
soak: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target soak mrdrun
	benchmarks/soak/soak.sh --build $(BUILD) --np $(SOAK_NP) --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

# The quick loop: unit tests only.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j 2

# The tuner's choice against every forced algorithm, per size (not run in CI):
#   make bench-sweep NP=8 SWEEP_ARGS="-c allreduce -R 5 --json sweep.json"
NP ?= 4
SWEEP_ARGS ?= -b 8 -e 64M -f 4 -R 3
bench-sweep: build
	./benchmarks/algo_sweep --build $(BUILD) --np $(NP) $(SWEEP_ARGS)

# Meridian against Open MPI and Gloo (MPICH too when installed), one host and
# namespace hosts, per collective and size (not run in CI; root for the
# namespace settings; see benchmarks/README.md):
#   make bench-compare COMPARE_ARGS="--settings local:2 --colls allreduce -e 64K"
COMPARE_ARGS ?=
bench-compare: build
	./benchmarks/compare/install-deps.sh
	$(MAKE) -f benchmarks/compare/Makefile BUILD=$(BUILD)
	/usr/bin/python3 benchmarks/compare/compare.py --build $(BUILD) $(COMPARE_ARGS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
