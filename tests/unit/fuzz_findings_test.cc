// Inputs the fuzz targets (tests/fuzz, docs/fuzzing.md) found that broke a contract, each
// replayed against the fixed code. The crashing input itself is kept in the target's corpus.
#include <gtest/gtest.h>

#include <string>

#include "common/errors.h"
#include "common/json_text.h"
#include "tests/unit/error_checks.h"

namespace berth {
namespace {

// json_text: nlohmann throws out_of_range, not parse_error, for a number beyond a double, and
// parseJson let it escape as something other than a berth::Error (a 500 where a 400 is due).
TEST(FuzzFindingsTest, ANumberNoDoubleHoldsIsInvalidJsonNotAnEscapedException) {
  EXPECT_EQ(test::thrownKind([] { parseJson("2e2222222H:\x08\xed\"\""); }), "invalid");
  EXPECT_EQ(test::thrownKind([] { parseJson("[1e400]"); }), "invalid");
  EXPECT_EQ(test::thrownMessage([] { parseJson("1e400"); }).rfind("invalid JSON: ", 0), 0u);
  EXPECT_TRUE(parseJsonOrDiscarded("1e400").is_discarded());
}

}  // namespace
}  // namespace berth
