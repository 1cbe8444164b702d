// Inputs the fuzz targets (tests/fuzz, docs/fuzzing.md) found that broke a contract, each
// replayed against the fixed code. The crashing input itself is kept in the target's corpus.
#include <gtest/gtest.h>

#include <capnp/message.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/docker_filters.h"
#include "common/errors.h"
#include "common/json_text.h"
#include "common/time_format.h"
#include "ipc/events.h"
#include "ipc/message.h"
#include "services/api/images_routes.h"
#include "services/containerd-bridge/request_types.h"
#include "common/image_reference.h"
#include "tests/unit/error_checks.h"

namespace berth {
namespace {

// json_text: nlohmann throws out_of_range, not parse_error, for a number beyond a double, and
// parseJson let it escape as something other than a berth::Error (a 500 where a 400 is due).
TEST(FuzzFindingsTest, ANumberNoDoubleHoldsIsInvalidJsonNotAnEscapedException) {
  EXPECT_EQ(test::thrownKind([] { parseJson("2e2222222H:\x08\xed\"\""); }), "invalid");
  EXPECT_EQ(test::thrownKind([] { parseJson("[1e400]"); }), "invalid");
  EXPECT_EQ(test::thrownMessage([] { parseJson("1e400"); }).rfind("invalid JSON: ", 0), 0u);
  EXPECT_TRUE(parseJsonOrDiscarded("1e400").is_discarded());
}

// query_values: X-Registry-Auth of {"username":127} let nlohmann's type_error escape from
// registryAuth. Go's decode of such a header fails, and dockerd then pulls or pushes without
// credentials.
TEST(FuzzFindingsTest, ACredentialThatIsNotAStringMeansNoCredentials) {
  for (const char* bad : {"eyJ1c2VybmFtZSI6MTI3fQ" /* {"username":127} */,
                          "eyJwYXNzd29yZCI6WyJwIl19" /* {"password":["p"]} */}) {
    EXPECT_EQ(api::registryAuth(bad), (std::pair<std::string, std::string>{})) << bad;
  }
}

// query_values: a Go duration beyond int64 nanoseconds was cast from double to int64 (undefined;
// INT64_MIN on x86, so `--since 2222…m` meant the far future). Go's ParseDuration refuses it.
TEST(FuzzFindingsTest, ADurationBeyondInt64NanosecondsIsNotATime) {
  const int64_t now = 1796083200LL * 1000000000LL;
  EXPECT_FALSE(parseDockerTime(std::string(38, '2') + "m", now).has_value());
  EXPECT_FALSE(parseDockerTime("3000000h", now).has_value());
  EXPECT_EQ(parseDockerTime("10m", now), now - 600LL * 1000000000LL);
}

// image_manifest: an image config's "created" after 2262 overflowed int64 nanoseconds (signed
// overflow: the year 4052 read as 1607 in the image list). Times saturate at int64's ends.
TEST(FuzzFindingsTest, TimesBeyondInt64NanosecondsSaturateInsteadOfOverflowing) {
  EXPECT_EQ(parseRfc3339Nanos("4052-11-30T10:00:00.123456789Z"), INT64_MAX);
  EXPECT_EQ(parseRfc3339Nanos("1600-01-01T00:00:00Z"), INT64_MIN);
  EXPECT_EQ(parseRfc3339Nanos("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
  EXPECT_LT(parseRfc3339Nanos("2026-01-01T00:00:00+2147483647:00"), 0);
  EXPECT_EQ(parseDockerTime("999999999999.5", 0), INT64_MAX);
  EXPECT_EQ(parseDockerTime("9999-01-01", 0), INT64_MAX);
  // Times in range are unchanged.
  EXPECT_EQ(parseRfc3339Nanos("2026-01-01T00:00:00.5+01:00"), 1767222000LL * 1000000000LL + 500000000LL);
  EXPECT_EQ(parseDockerTime("1700000000.5", 0), 1700000000LL * 1000000000LL + 500000000LL);
}

// image_reference: a 508-character name parsed, but its familiar form with ":latest" (what
// berth stores, lists and saves as RepoTags) passed the 512-character bound and did not parse
// again, so `docker rmi name:latest` and a load of its saved archive failed. distribution's
// bound, 255 for the normalized name, keeps every familiar form under 512.
TEST(FuzzFindingsTest, ANameLongerThan255CharactersIsRefusedSoEveryFamiliarFormParsesAgain) {
  std::string longest = std::string(255 - std::string("docker.io/library/").size(), 'a');
  EXPECT_EQ(images::parseReference(longest).familiar(), longest + ":latest");
  EXPECT_EQ(test::thrownMessage([&] { images::parseReference(longest + "a"); }),
            "invalid reference format: repository name must not be more than 255 characters");
  EXPECT_EQ(test::thrownKind([] { images::parseReference("registry.test:5000/" + std::string(237, 'b')); }), "invalid");
  EXPECT_EQ(images::parseReference("registry.test:5000/" + std::string(236, 'b') + ":v1").name.size(), 255u);
  std::string found = std::string(250, 'a') + "/" + std::string(257, 'b');  // 508 characters
  EXPECT_EQ(test::thrownKind([&] { images::parseReference(found); }), "invalid");
}

// container_create: a Ulimit's "Hard" of 2e048 in a create body was read with nlohmann's
// value<int64_t>, whose cast of a float beyond int64 is undefined. dockerd's decoder refuses the
// body; the core now refuses it in dockerd's words before reading any number
// (RequestTypesTest.* drive the core with it and show nothing is created).
TEST(FuzzFindingsTest, AFloatBeyondInt64InACreateBodyIsRefusedBeforeAnyNumberIsRead) {
  auto found = parseJson(R"({"Image":"busybox:1","HostConfig":{"MemorySwappiness":-1,)"
                         R"("Ulimits":[{"Name":"nofile","Hard":2e048,"Soft":1024}]}})");
  EXPECT_EQ(test::thrownMessage([&] { bridge::checkCreateBodyTypes(found); }),
            "json: cannot unmarshal number 2e48 into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64");
  found["HostConfig"]["Ulimits"][0]["Hard"] = 2048;
  EXPECT_EQ(test::thrownMessage([&] { bridge::checkCreateBodyTypes(found); }), "nothing thrown");
}

// capnp_message: a list of zero-sized structs costs a word of traversal per element without
// any bytes behind it, and the traversal bound was 16M words whatever the frame's size: a
// 72-byte event claiming 16 million attributes cost its reader 10 s (in the fuzz build) and
// 1.1 GB. The bound now follows the frame's size.
TEST(FuzzFindingsTest, ASmallFrameCannotClaimMillionsOfZeroSizedListElements) {
  // An Event (1 data word, 5 pointers) whose attributes pointer is an inline-composite list of
  // 16,000,000 structs of no size.
  const std::vector<uint64_t> segment = {
      (1ull << 32) | (5ull << 48),            // root: a struct right after, 1 data word, 5 pointers
      0,                                      // timeNano
      0, 0, 0,                                // type, action, actorId
      1ull | (1ull << 2) | (7ull << 32),      // attributes: inline composite, 0 words, tag next
      0,                                      // scope
      16000000ull << 2,                       // the tag: 16,000,000 elements of 0 words
  };
  std::string frame(8 + segment.size() * 8, '\0');
  uint32_t table[2] = {0, static_cast<uint32_t>(segment.size())};
  std::memcpy(frame.data(), table, sizeof table);
  std::memcpy(frame.data() + 8, segment.data(), segment.size() * 8);
  ipc::MessageIn in(zmq::message_t(frame.data(), frame.size()));
  try {
    ipc::fromCapnp(in.root<ipc::Event>());
    ADD_FAILURE() << "16 million attributes were read from 72 bytes";
  } catch (const kj::Exception& e) {
    EXPECT_NE(std::string(e.getDescription().cStr()).find("traversal limit"), std::string::npos)
        << e.getDescription().cStr();
  }

  // An honest event with many attributes still reads.
  ipc::EngineEvent event{"container", "start", "abc", {}, "local", 1};
  for (int i = 0; i < 10000; ++i) event.attributes.emplace_back("k" + std::to_string(i), "v");
  capnp::MallocMessageBuilder builder;
  ipc::toCapnp(event, builder.initRoot<ipc::Event>());
  ipc::MessageIn honest(ipc::encode(builder));
  EXPECT_EQ(ipc::fromCapnp(honest.root<ipc::Event>()).attributes.size(), 10000u);
}

// docker_filters: a name filter is a regular expression, and std::regex backtracked
// exponentially on ".**runn.*g" against a 45-character name (a volume or network list that
// never returned). Matching is now polynomial; what Go's regexp matches still matches.
TEST(FuzzFindingsTest, ANameFilterWithNestedRepetitionReturnsAndOrdinaryPatternsStillMatch) {
  auto filters = DockerFilters::parse(R"({"name":{".**runn.*g":true}})", {"name"});
  EXPECT_FALSE(filters.match("name", "we\x1e\x1e\x1e[-111111111111111-1111111111ZZZZ\x0fk\"b"));
  auto ordinary = DockerFilters::parse(R"({"name":["^v[0-9]+$","web","a|^b"]})", {"name"});
  EXPECT_TRUE(ordinary.match("name", "v12"));
  EXPECT_TRUE(ordinary.match("name", "my-web-1"));
  EXPECT_TRUE(ordinary.match("name", "bob"));
  EXPECT_FALSE(ordinary.match("name", "v12x"));
  EXPECT_FALSE(ordinary.match("name", "cob"));
  // Patterns Go's regexp does not compile are skipped: ")(" and a back-reference.
  auto skipped = DockerFilters::parse(R"({"name":[")(","(a)\\1"]})", {"name"});
  EXPECT_FALSE(skipped.match("name", "aa"));
  EXPECT_TRUE(skipped.match("name", ")("));  // exact match still holds
}

}  // namespace
}  // namespace berth
