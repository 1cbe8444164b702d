// go_json_types: encoding/json's verdict on a body's fields, in its words. The messages are the
// reference dockerd 20.10's answers to the same bodies.
#include <gtest/gtest.h>

#include "common/go_json_types.h"
#include "tests/unit/error_checks.h"

namespace berth {
namespace {

using json = nlohmann::json;

std::string verdict(const std::string& body, const std::vector<GoField>& fields) {
  return goDecodeError(json::parse(body), fields).value_or("decodes");
}

TEST(GoJsonTypesTest, AFloatOrANumberBeyondTheTypeIsRefusedWithItsTextAndTheFieldsGoPath) {
  const std::vector<GoField> ulimits = {{"HostConfig.Ulimits[].Hard", "Ulimit", GoType::int64}};
  const std::string prefix = "json: cannot unmarshal number ";
  const std::string field = " into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64";
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":2e48}]}})", ulimits), prefix + "2e48" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":1},{"Hard":1.5}]}})", ulimits), prefix + "1.5" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":9223372036854775808}]}})", ulimits),
            prefix + "9223372036854775808" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":-1e-5}]}})", ulimits), prefix + "-1e-5" + field);
  // A float is named in the shorter of its plain and scientific forms, as clients write them.
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":1e10}]}})", ulimits), prefix + "1e10" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":0.5}]}})", ulimits), prefix + "0.5" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":-123.25e3}]}})", ulimits), prefix + "-123250.0" + field);
  // Go parses integers only from integer text: 1.0 is a float however whole.
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":1.0}]}})", ulimits), prefix + "1.0" + field);
  EXPECT_EQ(verdict(R"({"HostConfig":{"Ulimits":[{"Hard":-9223372036854775808}, {"Hard":-5}]}})", ulimits), "decodes");

  const std::vector<GoField> weight = {{"BlkioWeight", "UpdateConfig", GoType::uint16}};
  EXPECT_EQ(verdict(R"({"BlkioWeight":70000})", weight),
            "json: cannot unmarshal number 70000 into Go struct field UpdateConfig.BlkioWeight of type uint16");
  EXPECT_EQ(verdict(R"({"BlkioWeight":-1})", weight),
            "json: cannot unmarshal number -1 into Go struct field UpdateConfig.BlkioWeight of type uint16");
  EXPECT_EQ(verdict(R"({"BlkioWeight":65535})", weight), "decodes");
  const std::vector<GoField> mode = {{"HostConfig.Mounts[].TmpfsOptions.Mode", "TmpfsOptions", GoType::fileMode}};
  EXPECT_EQ(verdict(R"({"HostConfig":{"Mounts":[{"TmpfsOptions":{"Mode":1e19}}]}})", mode),
            "json: cannot unmarshal number 1e19 into Go struct field "
            "TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode");
  const std::vector<GoField> rate = {{"HostConfig.BlkioDeviceReadBps[].Rate", "ThrottleDevice", GoType::uint64}};
  EXPECT_EQ(verdict(R"({"HostConfig":{"BlkioDeviceReadBps":[{"Rate":18446744073709551615}]}})", rate), "decodes");
  EXPECT_EQ(verdict(R"({"HostConfig":{"BlkioDeviceReadBps":[{"Rate":-1}]}})", rate),
            "json: cannot unmarshal number -1 into Go struct field "
            "ThrottleDevice.HostConfig.BlkioDeviceReadBps.Rate of type uint64");
}

TEST(GoJsonTypesTest, AValueOfAnotherKindIsNamedByItsKindAndNullOrAbsenceLeavesTheFieldUnset) {
  const std::vector<GoField> memory = {{"HostConfig.Memory", "HostConfig", GoType::int64}};
  auto refusal = [](const std::string& kind) {
    return "json: cannot unmarshal " + kind + " into Go struct field HostConfig.HostConfig.Memory of type int64";
  };
  EXPECT_EQ(verdict(R"({"HostConfig":{"Memory":"5"}})", memory), refusal("string"));
  EXPECT_EQ(verdict(R"({"HostConfig":{"Memory":true}})", memory), refusal("bool"));
  EXPECT_EQ(verdict(R"({"HostConfig":{"Memory":[1]}})", memory), refusal("array"));
  EXPECT_EQ(verdict(R"({"HostConfig":{"Memory":{}}})", memory), refusal("object"));
  EXPECT_EQ(verdict(R"({"HostConfig":{"Memory":null}})", memory), "decodes");
  EXPECT_EQ(verdict(R"({"HostConfig":{}})", memory), "decodes");
  EXPECT_EQ(verdict(R"({})", memory), "decodes");
  // A path through a value of another kind is the reader's to judge, not followed here.
  EXPECT_EQ(verdict(R"({"HostConfig":"x"})", memory), "decodes");
  // Into a bool or a string, a number is "number" without its text (exec's Detach).
  const std::vector<GoField> detach = {{"Detach", "ExecConfig", GoType::boolean}};
  EXPECT_EQ(verdict(R"({"Detach":1})", detach),
            "json: cannot unmarshal number into Go struct field ExecConfig.Detach of type bool");
  // A list of strings names the element's kind and type string.
  const std::vector<GoField> env = {{"Env", "ExecConfig", GoType::stringList}};
  EXPECT_EQ(verdict(R"({"Env":[1]})", env), "json: cannot unmarshal number into Go struct field ExecConfig.Env of type string");
  EXPECT_EQ(verdict(R"({"Env":"x"})", env), "json: cannot unmarshal string into Go struct field ExecConfig.Env of type []string");
  // The first field of the table that does not decode is the one named.
  const std::vector<GoField> two = {{"A", "S", GoType::int_}, {"B", "S", GoType::int_}};
  EXPECT_EQ(verdict(R"({"B":1.5,"A":2.5})", two), "json: cannot unmarshal number 2.5 into Go struct field S.A of type int");
  EXPECT_EQ(test::thrownKind([&] { checkGoTypes(json::parse(R"({"B":"x"})"), two); }), "invalid");
}

TEST(GoJsonTypesTest, NumbersAreReadOnlyWhenInt64HoldsThem) {
  EXPECT_EQ(int64Of(json::parse("-5")), -5);
  EXPECT_EQ(int64Of(json::parse("9223372036854775807")), INT64_MAX);
  EXPECT_EQ(int64Of(json::parse("9223372036854775808")), std::nullopt);
  EXPECT_EQ(int64Of(json::parse("2e48")), std::nullopt);
  EXPECT_EQ(int64Of(json::parse("1.0")), std::nullopt);
  EXPECT_EQ(int64Of(json::parse("\"1\"")), std::nullopt);
  EXPECT_EQ(int64Of(json()), std::nullopt);
  EXPECT_EQ(int64Within(json::parse("5000000000"), 0, INT32_MAX, 7), INT32_MAX);
  EXPECT_EQ(int64Within(json::parse("-2e48"), 0, INT32_MAX, 7), 7);
}

}  // namespace
}  // namespace berth
