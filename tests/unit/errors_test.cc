// The error kinds as they cross process boundaries: by name on the stream socket
// (common/errors.h's one table) and by number in rpc.capnp's mirror of the enum.
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/errors.h"
#include "ipc/wire_errors.h"

namespace berth {
namespace {

TEST(ErrorKindTest, EveryKindHasItsOwnNameAndComesBackFromIt) {
  std::set<std::string> names;
  for (int i = 0; i < kErrorKindCount; ++i) {
    auto kind = static_cast<ErrorKind>(i);
    std::string name(errorKindName(kind));
    EXPECT_FALSE(name.empty()) << i;
    names.insert(name);
    EXPECT_EQ(errorKindFromName(name), kind) << name;
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kErrorKindCount));
  EXPECT_EQ(errorKindName(ErrorKind::notFound), "notFound");
  EXPECT_EQ(errorKindName(ErrorKind::deadlineExceeded), "deadlineExceeded");
}

TEST(ErrorKindTest, ANameOfNoKindIsNone) {
  EXPECT_EQ(errorKindFromName(""), std::nullopt);
  EXPECT_EQ(errorKindFromName("not found"), std::nullopt);
  EXPECT_EQ(errorKindFromName("NotFound"), std::nullopt);
}

TEST(ErrorKindTest, TheWireEnumMirrorsEveryKindByNumberAndName) {
  auto enumerants = capnp::Schema::from<ipc::wire::ErrorKind>().getEnumerants();
  ASSERT_EQ(enumerants.size(), static_cast<unsigned>(kErrorKindCount));
  for (int i = 0; i < kErrorKindCount; ++i) {
    auto kind = static_cast<ErrorKind>(i);
    auto wire = ipc::toWire(kind);
    EXPECT_EQ(static_cast<int>(wire), i);
    EXPECT_EQ(std::string(enumerants[static_cast<unsigned>(i)].getProto().getName().cStr()), errorKindName(kind));
    EXPECT_EQ(ipc::fromWire(wire), kind);
  }
}

TEST(ErrorKindTest, AWireKindThisBuildDoesNotKnowIsInternal) {
  EXPECT_EQ(ipc::fromWire(static_cast<ipc::wire::ErrorKind>(kErrorKindCount)), ErrorKind::internal);
}

}  // namespace
}  // namespace berth
