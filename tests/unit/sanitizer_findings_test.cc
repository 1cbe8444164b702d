// What the ASan/UBSan run of the whole suite (scripts/test-sanitized.sh, docs/testing.md) found
// that broke a contract, each replayed against the fixed code.
#include <gtest/gtest.h>

#include <cstdint>

#include "common/time_format.h"

namespace berth {
namespace {

// containerd_client: containerd says "not exited yet" with Go's zero time (0001-01-01T00:00:00Z,
// -62135596800 s), and the bridge multiplied those seconds by 10^9 in int64: a signed overflow
// (UBSan, on every restore of a running container). It read as about 1754, which the exit
// handler happened to take for "not said". Year 1 is 0 now; other times saturate.
TEST(SanitizerFindingsTest, GoZeroTimeFromContainerdIsNotSaidAndFarTimesSaturateInsteadOfOverflowing) {
  EXPECT_EQ(unixNanosOf(-62135596800, 0), 0);
  EXPECT_EQ(unixNanosOf(-62104060801, 999999999), 0);                  // still year 1
  EXPECT_EQ(unixNanosOf(-62104060800, 0), INT64_MIN);                  // 0002-01-01: before 1677
  EXPECT_EQ(unixNanosOf(253402300799, 999999999), INT64_MAX);          // 9999-12-31T23:59:59
  EXPECT_EQ(unixNanosOf(9223372036, 854775807), INT64_MAX);            // int64's last nanosecond
  EXPECT_EQ(unixNanosOf(1767225600, 5), 1767225600LL * 1000000000LL + 5);  // 2026-01-01
  EXPECT_EQ(unixNanosOf(0, 0), 0);
}

}  // namespace
}  // namespace berth
