// Docker's name filters are regular expressions found anywhere in the name (moby's
// filters.Args.Match). A pattern of plain characters is matched by a substring search: it must
// pick exactly what its expression picks.
#include <gtest/gtest.h>

#include <string>

#include "common/docker_filters.h"

namespace berth {
namespace {

TEST(DockerFiltersTest, APlainPatternMatchesWhereverItsTextOccursAsItsExpressionWould) {
  FilterPatterns plain({"benchvol-1"});
  EXPECT_TRUE(plain.match("benchvol-1"));
  EXPECT_TRUE(plain.match("benchvol-10"));
  EXPECT_TRUE(plain.match("x-benchvol-1-y"));
  EXPECT_FALSE(plain.match("benchvol-2"));
  EXPECT_FALSE(plain.match("benchvol_1"));
  EXPECT_FALSE(plain.match("BENCHVOL-1"));  // case counts, as in Go
  FilterPatterns spaced({"web app/1"});
  EXPECT_TRUE(spaced.match("my web app/1"));
  EXPECT_FALSE(spaced.match("web  app/1"));
  // The empty expression is found in every name.
  EXPECT_TRUE(FilterPatterns({""}).match("anything"));
  // One with special characters is still an expression: "." is any character.
  FilterPatterns dotted({"a.b"});
  EXPECT_TRUE(dotted.match("xaxby"));
  EXPECT_FALSE(dotted.match("ab"));
  // Plain and special patterns together: either may match.
  FilterPatterns both({"front", "^db[0-9]$"});
  EXPECT_TRUE(both.match("the-front-end"));
  EXPECT_TRUE(both.match("db7"));
  EXPECT_FALSE(both.match("db77"));
  // A long plain pattern is found as Go finds it (expressions over 256 characters are skipped).
  std::string longName(300, 'n');
  EXPECT_TRUE(FilterPatterns({longName}).match("x" + longName + "x"));
  EXPECT_FALSE(FilterPatterns({longName}).match(longName.substr(1)));
}

}  // namespace
}  // namespace berth
