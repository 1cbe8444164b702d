// The listing's and inspect's JSON text, which the bridge renders once per record and keeps:
// it must be the very document rendered afresh, after every kind of change, including changes
// that do not touch the record (a listing's relative times, inspect's exec ids).
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/core_fixture.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class ViewsTest : public CoreFixture {
 protected:
  ListOptions all() {
    ListOptions o;
    o.all = true;
    return o;
  }
  // The kept rendering's text, parsed, against the document built whole (the two are equal as
  // JSON; the text is also valid JSON, which parsing checks).
  void expectListsAgree(const ListOptions& options) {
    json fresh = core_->list(options, soon());
    json kept = json::parse(core_->listText(options, soon()));
    EXPECT_EQ(kept, fresh);
  }
  void expectInspectsAgree(const std::string& id) {
    EXPECT_EQ(json::parse(core_->inspectText(id)), core_->inspect(id));
  }
};

TEST_F(ViewsTest, TheKeptRenderingFollowsEveryChangeOfTheRecordAndOfWhatLiesOutsideIt) {
  std::string a = run({{"AutoRemove", false}});
  std::string b = create({}, {{"Labels", {{"tier", "db"}}}});
  expectListsAgree(all());
  expectInspectsAgree(a);
  // Rendered once, then changed: a rename, a stop with its exit code, a removal.
  core_->rename(b, "renamed");
  auto listed = json::parse(core_->listText(all(), soon()));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0]["Names"], json::array({"/renamed"}));
  expectListsAgree(all());
  fake_.exitTask(a, 7);
  ASSERT_TRUE(waitForStatus(a, ContainerStatus::exited));
  expectInspectsAgree(a);
  EXPECT_EQ(json::parse(core_->inspectText(a))["State"]["ExitCode"], 7);
  expectListsAgree(all());
  core_->remove(b, true, false, soon());
  EXPECT_EQ(json::parse(core_->listText(all(), soon())).size(), 1u);
  // Outside the record: an exec's id shows in inspect at once.
  ASSERT_TRUE(core_->start(a, soon()));
  std::string exec = core_->execCreate(a, {{"Cmd", {"true"}}});
  EXPECT_EQ(json::parse(core_->inspectText(a))["ExecIDs"], json::array({exec}));
  expectInspectsAgree(a);
  // and a running container's "Up …" is rendered on each call (the same text rendered afresh).
  expectListsAgree(ListOptions{});
  EXPECT_EQ(json::parse(core_->listText(ListOptions{}, soon()))[0]["Status"].get<std::string>().rfind("Up ", 0), 0u);
}

TEST_F(ViewsTest, ARecordHoldingTheRenderingsOwnMarkerTextIsStillRenderedWhole) {
  // The marker the renderer splits at, in a label's value and in a command: the document must
  // not be cut there.
  std::string marked = "\x01" "berth-per-call" "\x01";
  std::string id = create({}, {{"Labels", {{"a", marked}}}, {"Cmd", {"echo", marked}}});
  expectListsAgree(all());
  expectInspectsAgree(id);
  auto listed = json::parse(core_->listText(all(), soon()));
  EXPECT_EQ(listed[0]["Labels"]["a"], marked);
  EXPECT_EQ(listed[0]["Status"], "Created");
}

}  // namespace
}  // namespace berth::bridge
