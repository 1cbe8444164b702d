// The API's read model of containers against a stand-in bridge (an RPC server answering
// containerViews and a views channel this test publishes on), so each rule of its protocol is
// exercised on purpose: it answers only after a snapshot's mark, follows consecutive changes,
// declines while a stamp it has not reached stands, and starts again after a gap or another
// epoch. The real bridge and API are in tests/integration/read_model_test.cc.
#include "services/containerd-bridge/public/container_read_model.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "ipc/message.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/rpc_server.h"
#include "services/containerd-bridge/container_view_feed.h"
#include "tests/support/process.h"
#include "tests/unit/core_fixture.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;

struct FakeView {
  std::string id, name;
  int64_t created = 0;
  bool running = true;
};

void fill(ipc::ContainerView::Builder out, const FakeView& v) {
  out.setId(v.id);
  out.setName(v.name);
  out.setCreated(v.created);
  out.setRunning(v.running);
  out.setInspectHead(R"({"Id":")" + v.id + R"(","Name":")" + v.name + R"(","ExecIDs":)");
  out.setExecIds("null");
  out.setInspectTail("}");
  out.setListHead(R"({"Id":")" + v.id + R"(","Status":)");
  out.setListTail("}");
  out.setStatusPrefix("Created");
  out.setStatusSince(-1);
}

class ContainerReadModelTest : public ::testing::Test {
 protected:
  ContainerReadModelTest() {
    pub_.set(zmq::sockopt::linger, 0);
    pub_.bind(viewsEndpoint_);
    server_.handle(ipc::methods::bridgeContainerViews(), [this](auto, auto r) {
      ++snapshotRequests_;
      for (int i = 0; i < 1000 && holdSnapshots_; ++i) std::this_thread::sleep_for(5ms);
      std::lock_guard lock(mutex_);
      r.setEpoch(epoch_);
      r.setSeq(seq_);
      auto list = r.initViews(static_cast<unsigned>(views_.size()));
      for (size_t i = 0; i < views_.size(); ++i) fill(list[static_cast<unsigned>(i)], views_[i]);
      ++snapshots_;
      sendLocked(epoch_, seq_, true, nullptr, "");
    });
    server_.start();
  }

  // One change on the views channel (the stand-in's state follows when `apply`).
  void change(uint64_t seq, const FakeView* view, const std::string& removedId = "") {
    std::lock_guard lock(mutex_);
    sendLocked(epoch_, seq, false, view, removedId);
  }
  void sendLocked(uint64_t epoch, uint64_t seq, bool mark, const FakeView* view, const std::string& removedId) {
    capnp::MallocMessageBuilder mb;
    auto c = mb.initRoot<ipc::ContainerViewChange>();
    c.setEpoch(epoch);
    c.setSeq(seq);
    c.setMark(mark);
    if (view) fill(c.initView(), *view);
    else if (!removedId.empty()) c.setRemovedId(removedId);
    auto frame = ipc::encode(mb);
    pub_.send(frame, zmq::send_flags::dontwait);
  }
  // Waits until the model answers an inspect of `ref`.
  bool answers(ContainerReadModel& model, const std::string& ref) {
    return test::waitFor([&] { return model.inspect(ref).has_value(); }, 5s);
  }

  test::TempDir dir_{"berth-read-model"};
  zmq::context_t context_;
  std::string rpcEndpoint_ = "ipc://" + dir_.path() + "/bridge.sock";
  std::string viewsEndpoint_ = "ipc://" + dir_.path() + "/views.sock";
  zmq::socket_t pub_{context_, zmq::socket_type::pub};
  ipc::RpcServer server_{context_, rpcEndpoint_};
  std::mutex mutex_;
  uint64_t epoch_ = 7, seq_ = 5;
  std::vector<FakeView> views_{{std::string(64, 'a'), "/first", 100, true}};
  std::atomic<int> snapshots_{0};
  std::atomic<int> snapshotRequests_{0};
  std::atomic<bool> holdSnapshots_{false};  // the stand-in answers snapshots only once cleared
  ipc::RpcClient client_{context_, rpcEndpoint_};
};

const std::string kA(64, 'a');
const std::string kB = std::string(63, 'a') + "b";

TEST_F(ContainerReadModelTest, AnswersFromTheSnapshotThenFollowsEachChangeInOrder) {
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(answers(model, "first"));
  EXPECT_EQ(*model.inspect(kA), R"({"Id":")" + kA + R"(","Name":"/first","ExecIDs":null})");
  EXPECT_EQ(*model.list(false, -1), R"([{"Id":")" + kA + R"(","Status":"Created"}])");
  FakeView renamed{kA, "/second", 100, false};
  change(6, &renamed);
  EXPECT_TRUE(test::waitFor([&] { return !model.inspect("first").has_value(); }, 5s));
  ASSERT_TRUE(answers(model, "second"));
  EXPECT_EQ(*model.list(false, -1), "[]");  // no longer running
  EXPECT_EQ(*model.list(true, -1), R"([{"Id":")" + kA + R"(","Status":"Created"}])");
  change(7, nullptr, kA);
  EXPECT_TRUE(test::waitFor([&] { return model.list(true, -1) == std::optional<std::string>("[]"); }, 5s));
  EXPECT_EQ(snapshots_, 1);
}

TEST_F(ContainerReadModelTest, AStampItHasNotReachedMakesItDeclineUntilTheChangeArrives) {
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(answers(model, "first"));
  // A reply acknowledged sequence 6 (a write); its change has not come over the channel yet.
  model.require({7, 6});
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  EXPECT_EQ(model.list(true, -1), std::nullopt);
  FakeView renamed{kA, "/renamed", 100, true};
  change(6, &renamed);
  ASSERT_TRUE(answers(model, "renamed"));
  // A stamp of a run it holds no snapshot of declines too, and brings a new snapshot.
  {
    std::lock_guard lock(mutex_);
    epoch_ = 8;
    seq_ = 1;
    views_ = {{kA, "/after-restart", 100, true}};
  }
  model.require({8, 1});
  EXPECT_EQ(model.inspect("renamed"), std::nullopt);
  ASSERT_TRUE(answers(model, "after-restart"));
  EXPECT_EQ(snapshots_, 2);
}

// A restart of the bridge: the new run publishes (its restore) before its snapshot can be taken.
// Until that snapshot is in place the last run's state answers, so docker ps does not wait for
// the restore; once a client was shown something of the new run (its stamp), it declines.
TEST_F(ContainerReadModelTest, ThroughARestartOfTheBridgeTheLastRunAnswersUntilTheNewRunsSnapshotIsInPlace) {
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(answers(model, "first"));
  holdSnapshots_ = true;
  int before = snapshotRequests_;
  {
    std::lock_guard lock(mutex_);
    epoch_ = 8;
    seq_ = 2;
    views_ = {{kA, "/after-restart", 100, false}};
  }
  FakeView restored{kA, "/after-restart", 100, false};
  change(2, &restored);
  ASSERT_TRUE(test::waitFor([&] { return snapshotRequests_ > before; }, 5s)) << "the new run brought no snapshot";
  EXPECT_EQ(model.inspect("first").value_or("declined"), R"({"Id":")" + kA + R"(","Name":"/first","ExecIDs":null})");
  EXPECT_EQ(model.list(false, -1).value_or("declined"), R"([{"Id":")" + kA + R"(","Status":"Created"}])");
  model.require({8, 2});
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  EXPECT_EQ(model.list(false, -1), std::nullopt);
  // A stamp of the last run read late (an event queued before the restart) does not bring its
  // state back: the new run replaced it.
  model.require({7, 5});
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  holdSnapshots_ = false;
  ASSERT_TRUE(answers(model, "after-restart"));
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  EXPECT_EQ(model.list(false, -1).value_or("declined"), "[]");
}

// A call that went away: the bridge may have acted on it (removed a container) and died before
// it published the change. No state of that run answers again; the next run's does, once a
// stamp of it was seen (the reply to the read the copy declined).
TEST_F(ContainerReadModelTest, ACallThatWentAwayMakesItDeclineUntilTheNextRunsSnapshot) {
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(answers(model, "first"));
  model.require({7, 5});
  ASSERT_TRUE(model.inspect("first").has_value());
  // The request left after run 7 started; 7 removed kA without a word, and died.
  model.requireRunAfter(7);
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  EXPECT_EQ(model.list(true, -1), std::nullopt);
  // An earlier moment changes nothing: the later one stands.
  model.requireRunAfter(3);
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  {
    std::lock_guard lock(mutex_);
    epoch_ = 8;
    seq_ = 1;
    views_ = {{kB, "/next", 100, true}};
  }
  model.require({8, 1});
  ASSERT_TRUE(answers(model, "next"));
  EXPECT_EQ(model.inspect("first"), std::nullopt);
  EXPECT_EQ(model.list(true, -1).value_or("declined"), R"([{"Id":")" + kB + R"(","Status":"Created"}])");
}

TEST_F(ContainerReadModelTest, AGapInTheSequenceMakesItDeclineAndTakeANewSnapshot) {
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(answers(model, "first"));
  {
    std::lock_guard lock(mutex_);
    seq_ = 7;
    views_.push_back({kB, "/other", 200, true});
  }
  FakeView other{kB, "/other", 200, true};
  change(7, &other);  // 6 never came
  ASSERT_TRUE(answers(model, "other"));
  EXPECT_EQ(snapshots_, 2);
  // Names, whole ids and unique prefixes resolve as the bridge's store resolves them; an
  // ambiguous prefix and an unknown name are the bridge's to answer.
  EXPECT_EQ(model.inspect(std::string(63, 'a')), std::nullopt);
  EXPECT_TRUE(model.inspect(kB).has_value());
  EXPECT_EQ(model.inspect("nonesuch"), std::nullopt);
  EXPECT_EQ(model.inspect(""), std::nullopt);
  // Newest first, and a limit lists stopped ones too.
  auto listed = *model.list(false, 1);
  EXPECT_EQ(listed, R"([{"Id":")" + kB + R"(","Status":"Created"}])");
}

// The bridge's half (ContainerViewFeed over the containers core and its fakes) with the API's
// half (the model over a real RPC server and views channel): after each kind of change the
// model's documents are the core's own renderings, and the channel numbers changes one by one.
class FeedToModelTest : public CoreFixture {
 protected:
  FeedToModelTest() {
    feed_ = std::make_unique<ContainerViewFeed>(context_, viewsEndpoint_, *store_, core_->views(), core_->execs());
    server_.handle(ipc::methods::bridgeContainerViews(), [this](auto, auto r) { feed_->snapshot(r); });
    server_.start();
    sub_.set(zmq::sockopt::subscribe, "");
    sub_.connect(viewsEndpoint_);
  }
  ~FeedToModelTest() override { server_.stop(); }

  // The model holds what the core renders now, for every container and the listing.
  void expectModelAgrees(ContainerReadModel& model) {
    ASSERT_TRUE(test::waitFor([&] { return model.list(true, -1).has_value(); }, 5s));
    for (const auto& record : store_->snapshot()) {
      auto fromModel = model.inspect(record->id);
      ASSERT_TRUE(fromModel.has_value()) << record->id;
      EXPECT_EQ(json::parse(*fromModel), json::parse(core_->inspectText(record->id))) << record->name;
    }
    ListOptions all;
    all.all = true;
    EXPECT_EQ(json::parse(*model.list(true, -1)), json::parse(core_->listText(all, soon())));
  }
  // Sequence numbers of the changes the channel carried so far (marks left out).
  std::vector<uint64_t> sequences() {
    zmq::message_t m;
    while (sub_.recv(m, zmq::recv_flags::dontwait)) {
      ipc::MessageIn in(m);
      auto c = in.root<ipc::ContainerViewChange>();
      if (!c.getMark()) seen_.push_back(c.getSeq());
    }
    return seen_;
  }

  test::TempDir sockets_{"berth-feed"};
  zmq::context_t context_;
  std::string rpcEndpoint_ = "ipc://" + sockets_.path() + "/bridge.sock";
  std::string viewsEndpoint_ = "ipc://" + sockets_.path() + "/views.sock";
  std::unique_ptr<ContainerViewFeed> feed_;
  ipc::RpcServer server_{context_, rpcEndpoint_};
  ipc::RpcClient client_{context_, rpcEndpoint_};
  zmq::socket_t sub_{context_, zmq::socket_type::sub};
  std::vector<uint64_t> seen_;
};

TEST_F(FeedToModelTest, AfterEachKindOfChangeTheModelHoldsTheCoresRenderings) {
  std::string before = run();  // in the snapshot
  ContainerReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect(before).has_value(); }, 5s));
  std::this_thread::sleep_for(50ms);  // the test's own subscription is in place
  std::string a = run();
  std::string b = create();
  core_->rename(b, "renamed");
  std::string exec = core_->execCreate(a, {{"Cmd", {"true"}}});
  core_->stop(a, 0, "", soon());
  core_->remove(before, true, false, soon());
  // Each change was published before its call returned: the stamp now covers them all.
  model.require(feed_->stamp());
  expectModelAgrees(model);
  EXPECT_EQ(json::parse(*model.inspect("renamed"))["Id"], b);
  EXPECT_EQ(json::parse(*model.inspect(a))["ExecIDs"], json::array({exec}));
  EXPECT_EQ(model.inspect(before), std::nullopt);  // gone: the bridge says so
  // The test's own subscription gets the changes in its own time: the last may still be on
  // its way when the model has it.
  uint64_t last = feed_->stamp().seq;
  test::waitFor([&] { return !sequences().empty() && seen_.back() >= last; }, 5s);
  auto seqs = sequences();
  ASSERT_FALSE(seqs.empty());
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << i;
  EXPECT_EQ(seqs.back(), feed_->stamp().seq);
}

// A removed container's rendering is dropped at its removal, not kept until a later sweep that
// only more containers bring: after a burst of runs the bridge held 160 removed containers'
// renderings and, through their weak pointers, their records' memory (about 0.9 MB).
TEST_F(FeedToModelTest, ARemovedContainersRenderingIsDroppedWhenTheRemovalIsPublished) {
  std::string kept = run();
  std::vector<std::string> removed = {run(), run(), create()};
  ListOptions all;
  all.all = true;
  ASSERT_EQ(json::parse(core_->listText(all, soon())).size(), 4u);
  EXPECT_EQ(core_->views().keptRenderings(), 4u);
  for (const auto& id : removed) core_->remove(id, true, false, soon());
  EXPECT_EQ(core_->views().keptRenderings(), 1u);
  EXPECT_EQ(json::parse(core_->inspectText(kept))["Id"], kept);
  EXPECT_EQ(core_->views().keptRenderings(), 1u);
}

}  // namespace
}  // namespace berth::bridge
