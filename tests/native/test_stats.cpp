// A hook's statistics (model/src/stats.cpp) against a plain long-double reference: the
// cases of stats_check.h (every tail length of the four lanes, NaN and inf at each lane,
// the masked attention scores), which the wasm builds run too (tests/node/engine.test.mjs).
#include <catch2/catch.hpp>

#include "stats_check.h"

TEST_CASE("stats_of equals a long-double reference: every tail length, NaN and inf, masked attention scores", "[hooks]") {
    const stats_check::Result r = stats_check::check();
    INFO(r.first_mismatch);
    CHECK(r.cases == 87);
    CHECK(r.first_mismatch.empty());
}
