# A thin wrapper around CMake. The two commands of the README:
#   make demo   installs what is missing, builds, runs a 4-rank allreduce benchmark
#   make test   installs what is missing, builds, runs every test
BUILD ?= build
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build demo test test-fast fuzz bench-sweep bench-compare install clean

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
