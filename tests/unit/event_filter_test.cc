// GET /events filters behave as dockerd's.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/api/event_filter.h"
#include "services/api/event_hub.h"
#include "services/api/system_routes.h"

namespace berth::api {
namespace {

ipc::EngineEvent containerStart() {
  return {"container", "start", "4f2a9c0d1e", {{"name", "web"}, {"image", "busybox"}, {"tier", "front"}}, "local", 1};
}

TEST(EventFilterTest, NoFiltersMatchEverything) { EXPECT_TRUE(EventFilter::parse("").matches(containerStart())); }

TEST(EventFilterTest, TypeAndEventMatchExactly) {
  EXPECT_TRUE(EventFilter::parse(R"({"type":{"container":true}})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"type":{"image":true}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"event":["stop","start"]})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"event":["die"]})").matches(containerStart()));
  auto exec = containerStart();
  exec.action = "exec_start: sh -c true";
  EXPECT_TRUE(EventFilter::parse(R"({"event":["exec_start"]})").matches(exec));
}

// Go's ExactMatch answers with the map form's boolean: the reference dockerd 20.10 sent no event
// for {"type":{"container":false}}; its fuzzy matches (a container's id prefix or name, and
// exec_start's) ignore the boolean.
TEST(EventFilterTest, AMapFormsFalseMatchesNothingExactly) {
  EXPECT_FALSE(EventFilter::parse(R"({"type":{"container":false}})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"type":{"container":null}})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"event":{"start":false}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"event":{"start":true,"stop":false}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"container":{"web":false}})").matches(containerStart()));
  auto exec = containerStart();
  exec.action = "exec_start: sh -c true";
  EXPECT_TRUE(EventFilter::parse(R"({"event":{"exec_start":false}})").matches(exec));
}

// moby's matchEvent: with exec_start (or exec_create, health_status) among the values every value
// is a prefix, a map form's false too; otherwise an action matches exactly.
TEST(EventFilterTest, AnExecActionMakesEveryEventValueAPrefix) {
  auto die = containerStart();
  die.action = "die";
  EXPECT_TRUE(EventFilter::parse(R"({"event":{"exec_start":true,"die":false}})").matches(die));
  EXPECT_FALSE(EventFilter::parse(R"({"event":{"start":true,"die":false}})").matches(die));
  EXPECT_TRUE(EventFilter::parse(R"({"event":["exec_start","di"]})").matches(die));
  EXPECT_FALSE(EventFilter::parse(R"({"event":["start","di"]})").matches(die));
}

// moby's matchImage: the actor's id or its image, exactly, each also without its tag; no id prefix.
TEST(EventFilterTest, ImageMatchesTheIdOrTheNameWithOrWithoutItsTag) {
  auto run = containerStart();
  run.attributes = {{"name", "web"}, {"image", "registry.local:5000/db:1"}};
  EXPECT_TRUE(EventFilter::parse(R"({"image":["registry.local:5000/db:1"]})").matches(run));
  EXPECT_TRUE(EventFilter::parse(R"({"image":["registry.local:5000/db"]})").matches(run));
  EXPECT_FALSE(EventFilter::parse(R"({"image":["registry.local:5000/db:2"]})").matches(run));
  EXPECT_FALSE(EventFilter::parse(R"({"image":{"registry.local:5000/db":false}})").matches(run));
  ipc::EngineEvent tag{"image", "tag", "sha256:0123abcd", {{"name", "busybox:latest"}}, "local", 1};
  EXPECT_TRUE(EventFilter::parse(R"({"image":["busybox"]})").matches(tag));
  EXPECT_TRUE(EventFilter::parse(R"({"image":["sha256:0123abcd"]})").matches(tag));
  EXPECT_FALSE(EventFilter::parse(R"({"image":["sha256:0123"]})").matches(tag));
}

TEST(EventFilterTest, ContainerMatchesIdPrefixOrName) {
  EXPECT_TRUE(EventFilter::parse(R"({"container":{"web":true}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"container":{"4f2a":true}})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"container":{"db":true}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"image":{"busybox":true}})").matches(containerStart()));
}

TEST(EventFilterTest, LabelsMatchKeyOrKeyValue) {
  EXPECT_TRUE(EventFilter::parse(R"({"label":{"tier":true}})").matches(containerStart()));
  EXPECT_TRUE(EventFilter::parse(R"({"label":{"tier=front":true}})").matches(containerStart()));
  EXPECT_FALSE(EventFilter::parse(R"({"label":{"tier=back":true}})").matches(containerStart()));
}

// dockerd 20.10 validates no key of /events' filters: the reference engine streamed every event
// for {"colour":["red"]}. A document Go cannot read is still refused.
TEST(EventFilterTest, UnknownKeysFilterNothingAndMalformedJsonIsInvalid) {
  EXPECT_TRUE(EventFilter::parse(R"({"colour":{"red":true}})").matches(containerStart()));
  EXPECT_THROW(EventFilter::parse("{not json"), Error);
  EXPECT_THROW(EventFilter::parse(R"({"type":"container"})"), Error);
}

TEST(TimestampTest, DockerTimestampsParseToNanoseconds) {
  EXPECT_EQ(parseTimestamp("since", "1700000000"), 1700000000000000000);
  EXPECT_EQ(parseTimestamp("since", "1700000000.5"), 1700000000500000000);
  EXPECT_EQ(parseTimestamp("since", "1700000000.000000001"), 1700000000000000001);
  EXPECT_THROW(parseTimestamp("since", "yesterday"), Error);
  EXPECT_THROW(parseTimestamp("since", "1.2.3"), Error);
}

// A client that stops reading /events holds at most 1024 queued events (dockerd's buffer per
// subscriber); the rest are dropped and counted, and the queue takes events again once read.
TEST(EventSubscriptionTest, HoldsAtMost1024EventsAndCountsWhatItDrops) {
  EventHub::Subscription sub;
  for (int i = 0; i < 1500; ++i) {
    auto e = containerStart();
    e.timeNano = i;
    sub.push(e);
  }
  std::vector<ipc::EngineEvent> got;
  ASSERT_TRUE(sub.wait(std::chrono::milliseconds(0), got));
  ASSERT_EQ(got.size(), 1024u);
  EXPECT_EQ(got.front().timeNano, 0);
  EXPECT_EQ(got.back().timeNano, 1023);
  EXPECT_EQ(sub.dropped(), 476u);
  sub.push(containerStart());
  got.clear();
  ASSERT_TRUE(sub.wait(std::chrono::milliseconds(0), got));
  EXPECT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace berth::api
