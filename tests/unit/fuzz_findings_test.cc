// Inputs the fuzz targets (tests/fuzz, docs/fuzzing.md) found that broke a contract, each
// replayed against the fixed code. The crashing input itself is kept in the target's corpus.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/errors.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "services/images/reference.h"
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

// query_values: a Go duration beyond int64 nanoseconds was cast from double to int64 (undefined;
// INT64_MIN on x86, so `--since 2222…m` meant the far future). Go's ParseDuration refuses it.
TEST(FuzzFindingsTest, ADurationBeyondInt64NanosecondsIsNotATime) {
  const int64_t now = 1796083200LL * 1000000000LL;
  EXPECT_FALSE(parseDockerTime(std::string(38, '2') + "m", now).has_value());
  EXPECT_FALSE(parseDockerTime("3000000h", now).has_value());
  EXPECT_EQ(parseDockerTime("10m", now), now - 600LL * 1000000000LL);
}

// image_manifest: an image config's "created" after 2262 overflowed int64 nanoseconds (signed
// overflow: the year 4052 read as 1607 in the image list). Times saturate at int64's ends.
TEST(FuzzFindingsTest, TimesBeyondInt64NanosecondsSaturateInsteadOfOverflowing) {
  EXPECT_EQ(parseRfc3339Nanos("4052-11-30T10:00:00.123456789Z"), INT64_MAX);
  EXPECT_EQ(parseRfc3339Nanos("1600-01-01T00:00:00Z"), INT64_MIN);
  EXPECT_EQ(parseRfc3339Nanos("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
  EXPECT_LT(parseRfc3339Nanos("2026-01-01T00:00:00+2147483647:00"), 0);
  EXPECT_EQ(parseDockerTime("999999999999.5", 0), INT64_MAX);
  EXPECT_EQ(parseDockerTime("9999-01-01", 0), INT64_MAX);
  // Times in range are unchanged.
  EXPECT_EQ(parseRfc3339Nanos("2026-01-01T00:00:00.5+01:00"), 1767222000LL * 1000000000LL + 500000000LL);
  EXPECT_EQ(parseDockerTime("1700000000.5", 0), 1700000000LL * 1000000000LL + 500000000LL);
}

// image_reference: a 508-character name parsed, but its familiar form with ":latest" (what
// berth stores, lists and saves as RepoTags) passed the 512-character bound and did not parse
// again, so `docker rmi name:latest` and a load of its saved archive failed. distribution's
// bound, 255 for the normalized name, keeps every familiar form under 512.
TEST(FuzzFindingsTest, ANameLongerThan255CharactersIsRefusedSoEveryFamiliarFormParsesAgain) {
  std::string longest = std::string(255 - std::string("docker.io/library/").size(), 'a');
  EXPECT_EQ(images::parseReference(longest).familiar(), longest + ":latest");
  EXPECT_EQ(test::thrownMessage([&] { images::parseReference(longest + "a"); }),
            "invalid reference format: repository name must not be more than 255 characters");
  EXPECT_EQ(test::thrownKind([] { images::parseReference("registry.test:5000/" + std::string(237, 'b')); }), "invalid");
  EXPECT_EQ(images::parseReference("registry.test:5000/" + std::string(236, 'b') + ":v1").name.size(), 255u);
  std::string found = std::string(250, 'a') + "/" + std::string(257, 'b');  // 508 characters
  EXPECT_EQ(test::thrownKind([&] { images::parseReference(found); }), "invalid");
}

}  // namespace
}  // namespace berth
