// The containers core refuses create, update and exec bodies whose fields dockerd's Go types do
// not hold, in encoding/json's words, before it creates or changes anything. Every message is
// the reference dockerd 20.10's answer to the same body (which it gives as a 500 where it is
// create or update; berth answers 400, as moby 23+ does, and as dockerd answers exec).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "tests/unit/core_fixture.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

class RequestTypesTest : public CoreFixture {
 protected:
  // Create with `body` (Image and Cmd added): the Error's kind and message.
  std::pair<std::string, std::string> createRefusal(const std::string& body) {
    json b = json::parse(body);
    b["Image"] = kImage;
    b["Cmd"] = {"true"};
    return {test::thrownKind([&] { core_->create("", b, soon()); }),
            test::thrownMessage([&] { core_->create("", b, soon()); })};
  }
};

TEST_F(RequestTypesTest, CreateRefusesANumberItsGoTypeCannotHoldInDockerdsWordsAndCreatesNothing) {
  const std::string cannot = "json: cannot unmarshal ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":2e48}]}})",
       "number 2e48 into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64"},
      {R"({"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":1.5}]}})",
       "number 1.5 into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64"},
      {R"({"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":"5"}]}})",
       "string into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64"},
      {R"({"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":9223372036854775808}]}})",
       "number 9223372036854775808 into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64"},
      {R"({"HostConfig":{"Memory":1.5}})", "number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64"},
      {R"({"HostConfig":{"Memory":true}})", "bool into Go struct field HostConfig.HostConfig.Memory of type int64"},
      {R"({"HostConfig":{"CpuShares":1e30}})",
       "number 1e30 into Go struct field HostConfig.HostConfig.CpuShares of type int64"},
      {R"({"HostConfig":{"BlkioWeight":70000}})",
       "number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"},
      {R"({"HostConfig":{"BlkioWeight":-1}})",
       "number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"},
      {R"({"HostConfig":{"PidsLimit":1e19}})",
       "number 1e19 into Go struct field HostConfig.HostConfig.PidsLimit of type int64"},
      {R"({"HostConfig":{"ShmSize":1e19}})", "number 1e19 into Go struct field HostConfig.HostConfig.ShmSize of type int64"},
      {R"({"HostConfig":{"MemorySwappiness":1e19}})",
       "number 1e19 into Go struct field HostConfig.HostConfig.MemorySwappiness of type int64"},
      {R"({"HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":1e19}}})",
       "number 1e19 into Go struct field RestartPolicy.HostConfig.RestartPolicy.MaximumRetryCount of type int"},
      {R"({"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1e19}}]}})",
       "number 1e19 into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.SizeBytes of type int64"},
      {R"({"HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"Mode":-1}}]}})",
       "number -1 into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode"},
      {R"({"HostConfig":{"ConsoleSize":[1.5,2]}})",
       "number 1.5 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint"},
      {R"({"HostConfig":{"BlkioWeightDevice":[{"Path":"/dev/sda","Weight":70000}]}})",
       "number 70000 into Go struct field WeightDevice.HostConfig.BlkioWeightDevice.Weight of type uint16"},
      {R"({"HostConfig":{"BlkioDeviceReadBps":[{"Path":"/dev/sda","Rate":-1}]}})",
       "number -1 into Go struct field ThrottleDevice.HostConfig.BlkioDeviceReadBps.Rate of type uint64"},
      {R"({"HostConfig":{"IOMaximumIOps":-1}})",
       "number -1 into Go struct field HostConfig.HostConfig.IOMaximumIOps of type uint64"},
      {R"({"HostConfig":{"OomScoreAdj":1e10}})",
       "number 1e10 into Go struct field HostConfig.HostConfig.OomScoreAdj of type int"},
      {R"({"StopTimeout":1e10})", "number 1e10 into Go struct field ContainerConfigWrapper.StopTimeout of type int"},
      {R"({"StopTimeout":"5"})", "string into Go struct field ContainerConfigWrapper.StopTimeout of type int"},
      {R"({"Healthcheck":{"Interval":1.5}})",
       "number 1.5 into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"},
      {R"({"Healthcheck":{"StartPeriod":"1s"}})",
       "string into Go struct field HealthConfig.Healthcheck.StartPeriod of type time.Duration"},
      {R"({"Healthcheck":{"Interval":9223372036854775808}})",
       "number 9223372036854775808 into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"},
      {R"({"Healthcheck":{"Retries":1e10}})", "number 1e10 into Go struct field HealthConfig.Healthcheck.Retries of type int"},
  };
  for (const auto& [body, message] : cases) {
    auto [kind, said] = createRefusal(body);
    EXPECT_EQ(kind, "invalid") << body;
    EXPECT_EQ(said, cannot + message) << body;
  }
  // Nothing was made: no record, no name, no layer, no event.
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(images_.prepares(), 0);
  EXPECT_TRUE(events().empty());
  // The same numbers in range are taken, and are what the spec holds.
  std::string id = create({{"Ulimits", {{{"Name", "nofile"}, {"Soft", 1}, {"Hard", -1}}}}, {"BlkioWeight", 65535 / 100}});
  EXPECT_EQ(status(id), ContainerStatus::created);
}

// dockerd's own checks of three fields berth does not apply, in the reference engine's words.
TEST_F(RequestTypesTest, CreateRefusesWhatDockerdRefusesOfOomScoreAdjShmSizeAndMemorySwappiness) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"HostConfig":{"OomScoreAdj":1001}})", "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
      {R"({"HostConfig":{"OomScoreAdj":-1001}})", "Invalid value -1001, range for oom score adj is [-1000, 1000]"},
      {R"({"HostConfig":{"ShmSize":-1}})", "SHM size can not be less than 0"},
      {R"({"HostConfig":{"OomScoreAdj":1001,"ShmSize":-1}})", "SHM size can not be less than 0"},
      {R"({"HostConfig":{"MemorySwappiness":101}})", "Invalid value: 101, valid memory swappiness range is 0-100"},
      {R"({"HostConfig":{"MemorySwappiness":-2}})", "Invalid value: -2, valid memory swappiness range is 0-100"},
  };
  for (const auto& [body, message] : cases) {
    auto [kind, said] = createRefusal(body);
    EXPECT_EQ(kind, "invalid") << body;
    EXPECT_EQ(said, message) << body;
  }
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(images_.prepares(), 0);
  std::string id = create({{"OomScoreAdj", -1000}, {"ShmSize", 0}, {"MemorySwappiness", -1}});
  EXPECT_EQ(status(id), ContainerStatus::created);
}

TEST_F(RequestTypesTest, UpdateRefusesANumberItsGoTypeCannotHoldAndChangesNothing) {
  std::string id = run({{"Memory", 64 * 1024 * 1024}});
  auto before = record(id).hostConfig;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"Memory":2e48})", "number 2e48 into Go struct field UpdateConfig.Memory of type int64"},
      {R"({"Memory":"5"})", "string into Go struct field UpdateConfig.Memory of type int64"},
      {R"({"CpuShares":1e30})", "number 1e30 into Go struct field UpdateConfig.CpuShares of type int64"},
      {R"({"BlkioWeight":70000})", "number 70000 into Go struct field UpdateConfig.BlkioWeight of type uint16"},
      {R"({"PidsLimit":1.5})", "number 1.5 into Go struct field UpdateConfig.PidsLimit of type int64"},
      {R"({"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":1e19}})",
       "number 1e19 into Go struct field RestartPolicy.RestartPolicy.MaximumRetryCount of type int"},
      {R"({"Ulimits":[{"Name":"nofile","Hard":2e48}]})", "number 2e48 into Go struct field Ulimit.Ulimits.Hard of type int64"},
  };
  for (const auto& [body, message] : cases) {
    EXPECT_EQ(test::thrownKind([&] { core_->update(id, json::parse(body), soon()); }), "invalid") << body;
    EXPECT_EQ(test::thrownMessage([&] { core_->update(id, json::parse(body), soon()); }),
              "json: cannot unmarshal " + message)
        << body;
  }
  EXPECT_EQ(record(id).hostConfig, before);
  EXPECT_EQ(fake_.count("Tasks.Update"), 0u);
  EXPECT_EQ(events(), (std::vector<std::string>{"create", "start"}));
}

TEST_F(RequestTypesTest, ExecRefusesAFieldOfAnotherKindInDockerdsWords) {
  std::string id = run();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"Cmd":["true"],"Detach":1})", "number into Go struct field ExecConfig.Detach of type bool"},
      {R"({"Cmd":["true"],"Detach":"yes"})", "string into Go struct field ExecConfig.Detach of type bool"},
      {R"({"Cmd":["true"],"Env":[1]})", "number into Go struct field ExecConfig.Env of type string"},
      {R"({"Cmd":["true"],"Env":"x"})", "string into Go struct field ExecConfig.Env of type []string"},
      {R"({"Cmd":[1]})", "number into Go struct field ExecConfig.Cmd of type string"},
  };
  for (const auto& [body, message] : cases) {
    EXPECT_EQ(test::thrownMessage([&] { core_->execCreate(id, json::parse(body)); }), "json: cannot unmarshal " + message)
        << body;
  }
  EXPECT_EQ(core_->execCreate(id, json::parse(R"({"Cmd":"true","Env":["A=b"],"Detach":false})")).size(), 64u);
}

}  // namespace
}  // namespace berth::bridge
