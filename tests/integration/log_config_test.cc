// A container's log configuration through the docker CLI, with dockerd 20.10's answers
// (observed on the reference engine): unknown drivers and option keys are refused at create,
// option values at start; an empty driver means json-file with the options given; none keeps
// nothing docker logs can read; max-size is a size ("1k" is 1024 bytes), as dockerd parses it.
#include <nlohmann/json.hpp>

#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

class LogConfigTest : public ContainersTest {
 protected:
  CommandResult create(const std::vector<std::string>& options) {
    std::vector<std::string> argv = {"create", "--pull", "never", "--network", "none"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {kImage, "true"});
    return engine_.docker(argv);
  }
  CommandResult runWith(const std::vector<std::string>& options) {
    std::vector<std::string> argv = {"run", "--rm", "--pull", "never", "--network", "none"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {kImage, "true"});
    return engine_.docker(argv);
  }
};

TEST_F(LogConfigTest, UnknownDriversAndKeysAreRefusedAtCreateAndBadValuesAtStart) {
  auto r = create({"--log-driver", "asdf"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_TRUE(contains(r.err, "error looking up logging plugin asdf: plugin \"asdf\" not found")) << r.err;
  r = create({"--log-opt", "foo=bar"});
  EXPECT_TRUE(contains(r.err, "unknown log opt 'foo' for json-file log driver")) << r.err;
  EXPECT_EQ(engine_.output({"ps", "-aq"}), "");  // nothing was created
  for (auto [option, message] : std::vector<std::pair<std::string, std::string>>{
           {"max-size=abc", "failed to initialize logging driver: invalid size: 'abc'"},
           {"max-file=0", "failed to initialize logging driver: max-file cannot be less than 1"},
           {"max-file=x", "failed to initialize logging driver: strconv.Atoi: parsing \"x\": invalid syntax"},
           {"compress=maybe", "failed to initialize logging driver: strconv.ParseBool: parsing \"maybe\": invalid syntax"}}) {
    r = runWith({"--log-opt", option});
    EXPECT_EQ(r.exitCode, 125) << option;
    EXPECT_TRUE(contains(r.err, message)) << option << ": " << r.err;
  }
  r = runWith({"--log-opt", "max-size=10m", "--log-opt", "max-file=2", "--log-opt", "compress=true"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

TEST_F(LogConfigTest, NoneKeepsNothingToReadAndAnEmptyDriverIsJsonFileWithItsOptions) {
  std::string id = runDetached({"--network", "none", "--log-driver", "none", kImage, "echo", "hi"});
  ASSERT_FALSE(id.empty());
  auto r = engine_.docker({"logs", id});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_TRUE(contains(r.err, "configured logging driver does not support reading")) << r.err;
  EXPECT_EQ(inspect(engine_, id, "{{json .HostConfig.LogConfig}}"), "{\"Type\":\"none\",\"Config\":{}}");
  auto created = httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/create",
                             json({{"Image", kImage},
                                   {"HostConfig", {{"NetworkMode", "none"}, {"LogConfig", {{"Type", ""}, {"Config", {{"max-size", "1m"}}}}}}}})
                                 .dump(),
                             "Content-Type: application/json\r\n");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(inspect(engine_, json::parse(created.body)["Id"], "{{json .HostConfig.LogConfig}}"),
            "{\"Type\":\"json-file\",\"Config\":{\"max-size\":\"1m\"}}");
}

class LogRotationTest : public LogConfigTest, public ::testing::WithParamInterface<bool> {};

// With -i and no TTY the logger runs apart from the shim (berth starts it on the output fifos):
// the options must reach it too (issue 14 found them dropped on that path).
TEST_P(LogRotationTest, MaxSizeIsASizeSoTheLogRotatesAtAKibibyte) {
  std::vector<std::string> options = {"--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=2"};
  if (GetParam()) options.push_back("-i");
  options.insert(options.end(), {kImage, "sh", "-c",
                                 "i=0; while [ $i -lt 200 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done"});
  std::string id = runDetached(options);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(engine_.output({"wait", id}), "0\n");
  std::string log = inspect(engine_, id, "{{.LogPath}}");
  ASSERT_TRUE(fs::exists(log + ".1")) << "no rotation: max-size read as something other than 1024 bytes";
  EXPECT_LE(fs::file_size(log), 1024u + 200u);  // at most one line past the limit
  EXPECT_FALSE(fs::exists(log + ".2"));          // max-file=2: the current file and one more
  auto logs = engine_.output({"logs", "--tail", "1", id});
  EXPECT_EQ(logs, "line-199-padding-padding-padding\n");
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutStdin, LogRotationTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "OpenStdin" : "NoStdin"; });

}  // namespace
}  // namespace berth::test
