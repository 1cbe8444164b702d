// The depth bound every JSON text passes before it is parsed (common/json_text).
#include <gtest/gtest.h>

#include <string>

#include "common/errors.h"
#include "common/json_text.h"

namespace berth {
namespace {

std::string nested(int depth, char open = '[', char close = ']') {
  return std::string(static_cast<size_t>(depth), open) + std::string(static_cast<size_t>(depth), close);
}

TEST(JsonTextTest, DocumentsUpToTheBoundParseAndDeeperOnesAreRefusedBeforeParsing) {
  EXPECT_FALSE(nestsTooDeep(nested(kMaxJsonDepth)));
  EXPECT_TRUE(nestsTooDeep(nested(kMaxJsonDepth + 1)));
  EXPECT_EQ(parseJson(nested(kMaxJsonDepth)).size(), 1u);
  try {
    parseJson(nested(1000000));
    ADD_FAILURE() << "a million levels were parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_EQ(std::string(e.what()), "invalid JSON: nested deeper than 128 levels");
  }
  EXPECT_TRUE(parseJsonOrDiscarded(nested(1000000)).is_discarded());
  // Objects count as arrays do, mixed.
  std::string mixed;
  for (int i = 0; i <= kMaxJsonDepth; ++i) mixed += i % 2 ? "[" : "{\"a\":";
  EXPECT_TRUE(nestsTooDeep(mixed));
}

TEST(JsonTextTest, BracketsInsideStringsAndEscapedQuotesDoNotCount) {
  std::string text = "{\"label\":\"" + nested(10000) + "\\\"[[[[\"}";
  EXPECT_FALSE(nestsTooDeep(text));
  EXPECT_EQ(parseJson(text)["label"].get<std::string>(), nested(10000) + "\"[[[[");
}

TEST(JsonTextTest, MalformedTextIsAnInvalidErrorOrADiscardedValue) {
  try {
    parseJson("{\"a\":");
    ADD_FAILURE() << "parsed a truncated object";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_EQ(std::string(e.what()).rfind("invalid JSON: ", 0), 0u) << e.what();
  }
  EXPECT_TRUE(parseJsonOrDiscarded("nope").is_discarded());
}

}  // namespace
}  // namespace berth
