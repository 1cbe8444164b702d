// Docker's name filters are regular expressions found anywhere in the name (moby's
// filters.Args.Match). A pattern of plain characters is matched by a substring search: it must
// pick exactly what its expression picks.
#include "common/docker_filters.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "common/errors.h"

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

// As moby's filters.FromJSON reads the JSON with Go's encoding/json; the answers dockerd 20.10
// gives for them are in docs/containers.md ("A filter key whose value is null").
TEST(DockerFiltersTest, NullIsNoFilterAndAKeyWhoseValueIsNullIsThereWithNoValue) {
  const std::set<std::string> keys = {"label", "name"};
  EXPECT_FALSE(DockerFilters::parse("null", keys).contains("label"));
  auto keyOnly = DockerFilters::parse(R"({"label":null})", keys);
  EXPECT_TRUE(keyOnly.contains("label"));
  EXPECT_TRUE(keyOnly.containsNoValue("label"));
  EXPECT_TRUE(keyOnly.matchKeyValues("label", {{"a", "1"}}));  // MatchKVList: no value, no filter
  EXPECT_TRUE(keyOnly.exactMatch("label", "anything"));
  EXPECT_FALSE(keyOnly.containsNoValue("name"));
  // A null among the strings is Go's zero value, the empty string: no label has that key, and
  // the empty expression is found in every name.
  auto emptyValue = DockerFilters::parse(R"({"label":[null],"name":[null]})", keys);
  EXPECT_EQ(emptyValue.values("label"), std::set<std::string>{""});
  EXPECT_FALSE(emptyValue.matchKeyValues("label", {{"a", "1"}}));
  EXPECT_TRUE(emptyValue.match("name", "web"));
  // The map form keeps its keys whatever their boolean, null included.
  EXPECT_EQ(DockerFilters::parse(R"({"label":{"a":null,"b":false}})", keys).values("label"),
            (std::set<std::string>{"a", "b"}));
  // A null value fits either form.
  EXPECT_EQ(DockerFilters::parse(R"({"label":null,"name":["x"]})", keys).values("name"), std::set<std::string>{"x"});
  EXPECT_EQ(DockerFilters::parse(R"({"label":null,"name":{"x":true}})", keys).values("name"), std::set<std::string>{"x"});
}

TEST(DockerFiltersTest, WhatGoCannotReadIntoEitherFormIsInvalid) {
  const std::set<std::string> keys = {"label", "name"};
  for (const char* text : {R"({"label":{"a":"x"}})", R"({"label":["a"],"name":{"b":true}})", R"({"label":["a",1]})",
                           R"({"label":"a"})", "[]", R"("label")", "{not json"}) {
    try {
      DockerFilters::parse(text, keys);
      ADD_FAILURE() << text << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid) << text;
      EXPECT_EQ(std::string(e.what()), std::string("invalid filter: ") + text);
    }
  }
}

// Go keeps a map form's false (and null, its zero) as a value: Get and the label and regular
// expression matches see it, ExactMatch does not match it.
TEST(DockerFiltersTest, AMapFormsFalseIsAValueThatMatchesNothingExactly) {
  const std::set<std::string> keys = {"status", "label"};
  auto f = DockerFilters::parse(R"({"status":{"running":false,"paused":true,"exited":null}})", keys);
  EXPECT_EQ(f.values("status"), (std::set<std::string>{"exited", "paused", "running"}));
  EXPECT_FALSE(f.exactMatch("status", "running"));
  EXPECT_FALSE(f.exactMatch("status", "exited"));
  EXPECT_TRUE(f.exactMatch("status", "paused"));
  EXPECT_TRUE(f.anyEquals("status", "running"));
  EXPECT_TRUE(f.match("status", "running"));
  EXPECT_FALSE(f.anyEquals("status", "dead"));
  // The list form has no booleans; add() is a true.
  EXPECT_TRUE(DockerFilters::parse(R"({"status":["running"]})", keys).exactMatch("status", "running"));
  f.add("status", "running");
  EXPECT_TRUE(f.exactMatch("status", "running"));
  EXPECT_TRUE(DockerFilters::parse(R"({"label":{"a":false}})", keys).matchKeyValues("label", {{"a", "1"}}));
}

// moby's matchLabels, which every prune applies (daemon/prune.go and its images and network
// siblings): the object is excluded only when every label! holds, as the reference dockerd
// 20.10 pruned with --filter label!=a --filter label!=b (only the one with both was kept).
TEST(DockerFiltersTest, APruneExcludesWhatEveryLabelNotValueHoldsFor) {
  const std::set<std::string> keys = {"label", "label!", "until"};
  auto matches = [&](const std::string& filters, const std::map<std::string, std::string>& labels) {
    return DockerFilters::parse(filters, keys).matchLabels(labels);
  };
  const std::map<std::string, std::string> none, a = {{"a", "1"}}, b = {{"b", "1"}}, ab = {{"a", "1"}, {"b", "1"}};
  const std::string both = R"({"label!":["a","b"]})";
  EXPECT_TRUE(matches(both, none));
  EXPECT_TRUE(matches(both, a));
  EXPECT_TRUE(matches(both, b));
  EXPECT_FALSE(matches(both, ab));
  EXPECT_FALSE(matches(R"({"label!":["a=1"]})", a));
  EXPECT_TRUE(matches(R"({"label!":["a=2"]})", a));
  // With label too, both must hold: a=1 there, and not both of a and b.
  EXPECT_TRUE(matches(R"({"label":["a=1"],"label!":["a","b"]})", a));
  EXPECT_FALSE(matches(R"({"label":["a=1"],"label!":["a","b"]})", b));
  // label! with no value: MatchKVList holds for a key without values, so nothing is pruned.
  EXPECT_FALSE(matches(R"({"label!":null})", none));
  EXPECT_TRUE(matches("", none));
}

TEST(DockerFiltersTest, APrunesUntilIsOneTimeOrDuration) {
  const std::set<std::string> keys = {"label", "label!", "until"};
  auto until = [&](const std::string& filters) {
    return DockerFilters::parse(filters, keys).pruneUntil(2000000000000000000);
  };
  auto refusal = [&](const std::string& filters) -> std::string {
    try {
      until(filters);
    } catch (const Error& e) {
      return std::string(e.what()) + (e.kind() == ErrorKind::invalid ? " (invalid)" : " (other)");
    }
    return "accepted";
  };
  EXPECT_EQ(until(R"({"label":["a"]})"), std::nullopt);
  EXPECT_EQ(until(R"({"until":["10s"]})"), std::optional<int64_t>(2000000000000000000 - 10000000000));
  EXPECT_EQ(until(R"({"until":["1500000000"]})"), std::optional<int64_t>(1500000000000000000));
  // dockerd 20.10's words (with a 500 there).
  EXPECT_EQ(refusal(R"({"until":["1h","2h"]})"), "more than one until filter specified (invalid)");
  EXPECT_EQ(refusal(R"({"until":["xx"]})"), "failed to parse value as time or duration: \"xx\" (invalid)");
  EXPECT_EQ(refusal(R"({"until":null})"), "invalid filter 'until=[]' (invalid)");
}

}  // namespace
}  // namespace berth
