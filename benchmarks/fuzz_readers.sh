#!/usr/bin/env bash
# The reader fuzzers (tests/DeepTrain.Tests/Fuzz) with more mutations than CI runs, printing per format:
# mutations tried, clean errors, successful reads, other exceptions, over-allocations, slow reads.
#   benchmarks/fuzz_readers.sh [ITERATIONS [SEED]]      default 50000 per format, seed 13
# Exit status is the test run's: non-zero when any mutation produced anything but a clean error or a read;
# the failing test's message lists the first findings with their iteration numbers (replay: same seed).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEEPTRAIN_FUZZ_ITERATIONS="${1:-50000}"
export DEEPTRAIN_FUZZ_SEED="${2:-13}"
dotnet build tests/DeepTrain.Tests -c Release -v quiet -nologo >/dev/null
tests/DeepTrain.Tests/bin/Release/net10.0/DeepTrain.Tests -noColor -class 'DeepTrain.Tests.Fuzz.ReaderFuzzTests'
