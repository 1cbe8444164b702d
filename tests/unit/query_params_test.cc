// Query parameters as the Docker API reads them (services/api/query_params.h).
#include "services/api/query_params.h"

#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/api/images_routes.h"
#include "tests/unit/error_checks.h"

namespace berth::api {
namespace {

http::Request withQuery(std::vector<std::pair<std::string, std::string>> query) {
  http::Request req;
  req.query = std::move(query);
  return req;
}

TEST(QueryParamsTest, OnlyOneTrueAndTrueAreTrue) {
  auto req = withQuery({{"a", "1"}, {"b", "true"}, {"c", "True"}, {"d", "TRUE"}, {"e", "yes"}, {"f", "0"}});
  EXPECT_TRUE(boolParam(req, "a"));
  EXPECT_TRUE(boolParam(req, "b"));
  EXPECT_TRUE(boolParam(req, "c"));
  EXPECT_FALSE(boolParam(req, "d", true));
  EXPECT_FALSE(boolParam(req, "e", true));
  EXPECT_FALSE(boolParam(req, "f", true));
}

TEST(QueryParamsTest, AnAbsentOrEmptyBooleanIsTheFallback) {
  auto req = withQuery({{"stream", ""}});
  EXPECT_FALSE(boolParam(req, "stream"));
  EXPECT_TRUE(boolParam(req, "stream", true));
  EXPECT_TRUE(boolParam(req, "absent", true));
  EXPECT_FALSE(boolParam(req, "absent"));
}

TEST(QueryParamsTest, AnIntegerMustBeWhole) {
  auto req = withQuery({{"t", "-5"}, {"h", "12x"}, {"w", ""}});
  EXPECT_EQ(intParam(req, "t", 10), -5);
  EXPECT_EQ(intParam(req, "w", 10), 10);
  EXPECT_EQ(intParam(req, "absent", 7), 7);
  try {
    intParam(req, "h", 0);
    FAIL() << "12x was taken for a number";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_STREQ(e.what(), "invalid value for h: 12x");
  }
}

TEST(QueryParamsTest, ATimeOfZeroIsNoTime) {
  auto req = withQuery({{"since", "0"}, {"until", "1700000000.5"}, {"bad", "yesterday"}});
  EXPECT_EQ(timeParam(req, "since"), 0);
  EXPECT_EQ(timeParam(req, "absent"), 0);
  EXPECT_EQ(timeParam(req, "until"), 1700000000500000000);
  try {
    timeParam(req, "bad");
    FAIL() << "yesterday was taken for a time";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_STREQ(e.what(), "invalid value for bad: yesterday");
  }
}

// Go's json.Unmarshal of "null" into the filter map leaves it empty, so dockerd lists everything
// for filters=null; text that is no JSON (only whitespace, "nul") stays for the parser to refuse.
TEST(QueryParamsTest, FiltersOfJsonNullAreNoFilters) {
  EXPECT_EQ(filtersParam(withQuery({})), "");
  EXPECT_EQ(filtersParam(withQuery({{"filters", ""}})), "");
  EXPECT_EQ(filtersParam(withQuery({{"filters", "null"}})), "");
  EXPECT_EQ(filtersParam(withQuery({{"filters", " \t\r\nnull\n "}})), "");
  EXPECT_EQ(filtersParam(withQuery({{"filters", "  "}})), "  ");
  EXPECT_EQ(filtersParam(withQuery({{"filters", "nul"}})), "nul");
  EXPECT_EQ(filtersParam(withQuery({{"filters", "nullx"}})), "nullx");
  EXPECT_EQ(filtersParam(withQuery({{"filters", "null null"}})), "null null");
  EXPECT_EQ(filtersParam(withQuery({{"filters", R"({"label":["a"]})"}})), R"({"label":["a"]})");
}

}  // namespace
// X-Registry-Auth: base64url of the credentials' JSON, as the docker CLI sends it (Go's
// base64.URLEncoding, padded); berth also takes the standard alphabet and no padding.
TEST(RegistryAuthTest, DecodesUrlSafeStandardAndUnpaddedHeaders) {
  std::pair<std::string, std::string> expected{"u>?", "p~~>?"};
  EXPECT_EQ(registryAuth("eyJ1c2VybmFtZSI6InU-PyIsInBhc3N3b3JkIjoicH5-Pj8ifQ=="), expected);
  EXPECT_EQ(registryAuth("eyJ1c2VybmFtZSI6InU+PyIsInBhc3N3b3JkIjoicH5+Pj8ifQ=="), expected);
  EXPECT_EQ(registryAuth("eyJ1c2VybmFtZSI6InU-PyIsInBhc3N3b3JkIjoicH5-Pj8ifQ"), expected);
  EXPECT_EQ(registryAuth("e30="), (std::pair<std::string, std::string>{}));
  // {"username":null,"password":"p"}
  EXPECT_EQ(registryAuth("eyJ1c2VybmFtZSI6bnVsbCwicGFzc3dvcmQiOiJwIn0"), (std::pair<std::string, std::string>{"", "p"}));
  EXPECT_EQ(registryAuth(""), (std::pair<std::string, std::string>{}));
}

// Go's decoder matches a key to the AuthConfig field whatever its case.
TEST(RegistryAuthTest, KeysNameTheirFieldWhateverTheirCase) {
  // {"Username":"u","PASSWORD":"p","Email":"e"}
  EXPECT_EQ(registryAuth("eyJVc2VybmFtZSI6InUiLCJQQVNTV09SRCI6InAiLCJFbWFpbCI6ImUifQ"),
            (std::pair<std::string, std::string>{"u", "p"}));
}

// dockerd 20.10 (postImagesCreate, postImagesPush) and moby since then ignore a header that does
// not decode, "to increase compatibility with the existing API", and go on without credentials.
TEST(RegistryAuthTest, AHeaderThatDoesNotDecodeMeansNoCredentials) {
  for (const char* bad : {"!!!!", "eyJ1c2Vy*mFtZSI6", "W10=" /* [] */, "bm90IGpzb24=" /* not json */,
                          "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6MX0" /* {"username":"u","password":1} */}) {
    EXPECT_EQ(registryAuth(bad), (std::pair<std::string, std::string>{})) << bad;
  }
}

}  // namespace berth::api
