// Libraries opened at run time (common/shared_library.h): what a missing library or symbol says.
#include "common/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "common/errors.h"

namespace berth {
namespace {

TEST(SharedLibraryTest, ASymbolResolvedIsTheLibrarysOwnFunction) {
  const SharedLibrary libc("libc.so.6");
  size_t (*length)(const char*) = nullptr;
  libc.resolve("strlen", length);
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length("berth"), 5u);
}

TEST(SharedLibraryTest, AMissingLibraryIsUnavailableAndNamed) {
  try {
    SharedLibrary missing("libberth-no-such-library.so.1");
    FAIL() << "opened a library that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unavailable);
    EXPECT_NE(std::string(e.what()).find("cannot open libberth-no-such-library.so.1"), std::string::npos) << e.what();
  }
}

TEST(SharedLibraryTest, AMissingSymbolIsUnavailableAndNamed) {
  const SharedLibrary libc("libc.so.6");
  void (*nothing)() = nullptr;
  try {
    libc.resolve("berth_no_such_symbol", nothing);
    FAIL() << "resolved a symbol libc does not have";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unavailable);
    EXPECT_NE(std::string(e.what()).find("libc.so.6 has no berth_no_such_symbol"), std::string::npos) << e.what();
  }
  EXPECT_EQ(nothing, nullptr);
}

}  // namespace
}  // namespace berth
