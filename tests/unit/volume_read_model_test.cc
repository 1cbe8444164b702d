// The API's read model of volumes over the volumes service's half (the views channel of
// VolumeViewFeed over the volumes core with a fake kernel, and a real RPC server answering
// volumeViews): after each kind of change the model holds the core's volumes, the channel
// numbers changes one by one, and a stamp not reached yet makes it decline. Also the
// containerd-bridge's half: its client of the volumes service keeps the highest stamp the
// service's replies carried, which the bridge's own replies pass on. The protocol's rules
// (snapshot and mark, gaps, epochs) are shared with the containers' model and tested there
// (container_read_model_test.cc); the real engine is in tests/integration/volume_read_model_test.cc.
#include "services/volumes/public/volume_read_model.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/errors.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/rpc_server.h"
#include "services/containerd-bridge/volume_service_client.h"
#include "services/volumes/volume_view_feed.h"
#include "services/volumes/volumes_core.h"
#include "tests/support/process.h"
#include "tests/unit/error_checks.h"
#include "tests/unit/fake_mounter.h"

namespace berth::volumes {
namespace {

using namespace std::chrono_literals;

class VolumeFeedToModelTest : public ::testing::Test {
 protected:
  VolumeFeedToModelTest() {
    core_ = std::make_unique<VolumesCore>(dir_.path() + "/volumes", kernel_,
                                          [](const std::string&, const std::string&, const VolumesCore::Attributes&) {});
    feed_ = std::make_unique<VolumeViewFeed>(context_, viewsEndpoint_, *core_);
    server_.handle(ipc::methods::volumesVolumeViews(), [this](auto, auto r) { feed_->snapshot(r); });
    server_.handle(ipc::methods::volumesCreate(), [this](ipc::Volumes::CreateParams::Reader p, auto r) {
      auto [view, created] = core_->create({p.getName(), "", {}, {}, p.getAnonymous()});
      fillVolumeInfo(view, r.initVolume());
      r.setCreated(created);
    });
    server_.handle(ipc::methods::volumesRemove(),
                   [this](ipc::Volumes::RemoveParams::Reader p, auto) { core_->remove(p.getName(), p.getForce()); });
    server_.start();
  }
  ~VolumeFeedToModelTest() override { server_.stop(); }

  CreateRequest named(const std::string& name) {
    CreateRequest r;
    r.name = name;
    return r;
  }

  // The model holds what the core holds now, every field the copy keeps (users are left out,
  // whether there are any is kept).
  void expectModelAgrees(VolumeReadModel& model) {
    model.require(feed_->stamp());
    std::optional<std::vector<std::shared_ptr<const VolumeInfo>>> listed;
    ASSERT_TRUE(test::waitFor([&] { return (listed = model.list()).has_value(); }, 5s))
        << "the model never reached the feed's own stamp";
    auto held = core_->list("", false);
    ASSERT_EQ(listed->size(), held.size());
    for (size_t i = 0; i < held.size(); ++i) {
      const VolumeInfo& got = *(*listed)[i];
      const VolumeView& want = held[i];
      EXPECT_EQ(got.name, want.record.name);
      EXPECT_EQ(got.driver, want.record.driver);
      EXPECT_EQ(got.mountpoint, want.mountpoint);
      EXPECT_EQ(got.createdAtNano, want.record.createdAtNano);
      EXPECT_EQ(got.labels, want.record.labels);
      EXPECT_EQ(got.options, want.record.options);
      EXPECT_EQ(got.anonymous, want.anonymous);
      EXPECT_TRUE(got.users.empty());
      EXPECT_EQ(got.inUse, !want.users.empty()) << want.record.name;
      auto inspected = model.inspect(want.record.name);
      ASSERT_TRUE(inspected.has_value()) << want.record.name;
      EXPECT_EQ(inspected->createdAtNano, want.record.createdAtNano);
      EXPECT_EQ(inspected->labels, want.record.labels);
    }
    // Filtered: the same volumes as the core's under each filter; refusals in the core's words.
    for (const char* filters :
         {R"({"label":["tier"]})", R"({"label":["tier=cold"]})", R"({"name":["^lab"]})", R"({"name":{"e":true}})",
          R"({"driver":["local"]})", R"({"driver":["other"]})", R"({"label":["com.docker.volume.anonymous"]})",
          R"({"name":["b"],"driver":["local"]})", R"({"dangling":["true"]})", R"({"dangling":["1"]})",
          R"({"dangling":["false"]})", R"({"dangling":["0"],"name":["e"]})", R"({"dangling":{"true":true}})"}) {
      auto got = model.list(filters);
      ASSERT_TRUE(got.has_value()) << filters;
      std::vector<std::string> gotNames, wantNames;
      for (const auto& v : *got) gotNames.push_back(v->name);
      for (const auto& v : core_->list(filters, false)) wantNames.push_back(v.record.name);
      EXPECT_EQ(gotNames, wantNames) << filters;
    }
    for (const char* filters : {R"({"colour":["blue"]})", R"({"dangling":["maybe"]})", "[1]"}) {
      std::string said = test::thrownMessage([&] { core_->list(filters, false); });
      EXPECT_NE(said, "nothing thrown") << filters;
      EXPECT_EQ(test::thrownMessage([&] { model.list(filters); }), said) << filters;
      EXPECT_EQ(test::thrownKind([&] { model.list(filters); }), "invalid") << filters;
    }
  }

  test::TempDir dir_{"berth-volume-views"};
  FakeMounter kernel_;
  std::unique_ptr<VolumesCore> core_;
  zmq::context_t context_;
  std::string rpcEndpoint_ = "ipc://" + dir_.path() + "/volumes.sock";
  std::string viewsEndpoint_ = "ipc://" + dir_.path() + "/views.sock";
  std::unique_ptr<VolumeViewFeed> feed_;
  ipc::RpcServer server_{context_, rpcEndpoint_};
  ipc::RpcClient client_{context_, rpcEndpoint_};
};

TEST_F(VolumeFeedToModelTest, AfterEachKindOfChangeTheModelHoldsTheCoresVolumes) {
  core_->create(named("before"));  // in the snapshot
  VolumeReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("before").has_value(); }, 5s));
  EXPECT_EQ(feed_->stamp().seq, 1u);

  CreateRequest labelled = named("labelled");
  labelled.labels = {{"tier", "cold"}};
  core_->create(labelled);
  CreateRequest anonymous;
  anonymous.anonymous = true;
  std::string anonymousName = core_->create(anonymous).first.record.name;
  CreateRequest device = named("device");
  device.options = {{"type", "tmpfs"}, {"device", "tmpfs"}};
  core_->create(device);
  core_->create(named("labelled"));  // exists: no change
  core_->remove("before", false);
  core_->reference(std::string(64, 'c'), {"labelled"});  // in use from now on
  auto pruned = core_->prune("", false);                 // the anonymous one
  ASSERT_EQ(pruned.removed, std::vector<std::string>{anonymousName});
  // Made: labelled, the anonymous one, device; removed: before, the anonymous one; one
  // reference.
  EXPECT_EQ(feed_->stamp().seq, 7u);
  expectModelAgrees(model);
  EXPECT_EQ(model.inspect("before"), std::nullopt);  // the service says "no such volume"
  EXPECT_EQ(model.inspect(anonymousName), std::nullopt);
  EXPECT_EQ(model.inspect("labelled")->labels, (std::map<std::string, std::string>{{"tier", "cold"}}));
  EXPECT_EQ(model.inspect("device")->options.at("type"), "tmpfs");
  EXPECT_TRUE(model.inspect("labelled")->inUse);
  EXPECT_FALSE(model.inspect("device")->inUse);
  EXPECT_GE(model.counts().changes, 6u);
  EXPECT_GE(model.counts().snapshots, 1u);
  // The channel numbered them one by one: the model followed them without a new snapshot
  // (unless the first snapshot's mark was lost, which takes another).
  EXPECT_LE(model.counts().snapshots, 2u);
}

// Each call that changes which containers use a volume (reference, mount, release, the bridge's
// reconcile at its restore) is one numbered change: after each the model's dangling= lists are
// the core's, and its stamp covers the change (what the bridge's reply passes on).
TEST_F(VolumeFeedToModelTest, EveryChangeOfAVolumesUsersReachesTheModelsDanglingList) {
  for (const char* name : {"va", "vb", "vc"}) core_->create(named(name));
  CreateRequest device = named("vd");
  device.options = {{"type", "tmpfs"}, {"device", "tmpfs"}};
  core_->create(device);
  VolumeReadModel model(context_, viewsEndpoint_, client_);
  std::string one(64, '1'), two(64, '2');
  auto names = [](const std::vector<std::shared_ptr<const VolumeInfo>>& all) {
    std::vector<std::string> out;
    for (const auto& v : all) out.push_back(v->name);
    return out;
  };
  auto expectDangling = [&](const std::vector<std::string>& dangling, const std::string& step) {
    model.require(feed_->stamp());
    std::optional<std::vector<std::shared_ptr<const VolumeInfo>>> got;
    ASSERT_TRUE(test::waitFor([&] { return (got = model.list(R"({"dangling":["true"]})")).has_value(); }, 5s)) << step;
    EXPECT_EQ(names(*got), dangling) << step;
    std::vector<std::string> core;
    for (const auto& v : core_->list(R"({"dangling":["true"]})", false)) core.push_back(v.record.name);
    EXPECT_EQ(core, dangling) << step << " (the core)";
    auto used = model.list(R"({"dangling":["false"]})");
    ASSERT_TRUE(used.has_value()) << step;
    EXPECT_EQ(used->size() + got->size(), 4u) << step;
  };
  expectDangling({"va", "vb", "vc", "vd"}, "fresh");
  uint64_t before = feed_->stamp().seq;
  core_->reference(one, {"va", "vb"});
  EXPECT_EQ(feed_->stamp().seq, before + 1);
  expectDangling({"vc", "vd"}, "one references a and b");
  core_->reference(one, {"vb"});
  expectDangling({"va", "vc", "vd"}, "one references b only");
  core_->mount(two, "vd", "/data", true, "");
  expectDangling({"va", "vc"}, "two mounts d");
  before = feed_->stamp().seq;
  core_->mount(two, "vd", "/again", true, "");  // already its user: nothing to tell
  EXPECT_EQ(feed_->stamp().seq, before);
  core_->unmount(two, "vd");  // the task's mount ends; the container still references it
  EXPECT_EQ(feed_->stamp().seq, before + 1);
  expectDangling({"va", "vc"}, "two unmounts d");
  core_->release(one);
  expectDangling({"va", "vb", "vc"}, "one released");
  core_->reconcile({{one, {{"vc"}, {}}}});  // the bridge's whole view: two is gone, one uses c
  expectDangling({"va", "vb", "vd"}, "reconciled");
  EXPECT_EQ(test::thrownKind([&] { core_->reference(two, {"va", "no-such"}); }), "notFound");
  expectDangling({"va", "vb", "vd"}, "a refused reference");  // its number was spent on nothing
  core_->release(one);
  expectDangling({"va", "vb", "vc", "vd"}, "all released");
  EXPECT_LE(model.counts().snapshots, 2u);  // followed change by change
}

// A removal the kernel refuses (a device volume that will not unmount): the volume was out of
// the table, and told so, while the removal ran; it is back, and the copy holds it again.
TEST_F(VolumeFeedToModelTest, AVolumePutBackAfterAFailedRemovalIsInTheModelAgain) {
  CreateRequest device = named("stuck");
  device.options = {{"type", "tmpfs"}, {"device", "tmpfs"}};
  core_->create(device);
  VolumeReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("stuck").has_value(); }, 5s));
  kernel_.mounted.insert(dir_.path() + "/volumes/stuck/_data");  // left mounted
  kernel_.failUnmountWith = 16;                                 // EBUSY
  uint64_t before = feed_->stamp().seq;
  EXPECT_EQ(test::thrownKind([&] { core_->remove("stuck", false); }), "internal");  // the unmount's EBUSY
  EXPECT_EQ(feed_->stamp().seq, before + 2);  // out of the table, then back
  expectModelAgrees(model);
  EXPECT_TRUE(model.inspect("stuck").has_value());
  // A refused removal (in use) spends a number and changes nothing.
  core_->reference(std::string(64, 'c'), {"stuck"});  // one change: in use
  EXPECT_EQ(test::thrownMessage([&] { core_->remove("stuck", false); }),
            "remove stuck: volume is in use - [" + std::string(64, 'c') + "]");
  EXPECT_EQ(feed_->stamp().seq, before + 4);
  expectModelAgrees(model);
  EXPECT_TRUE(model.inspect("stuck").has_value());
}

TEST_F(VolumeFeedToModelTest, AStampItHasNotReachedMakesItDeclineUntilTheChangeArrives) {
  VolumeReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.list().has_value(); }, 5s));
  auto next = feed_->stamp();
  ++next.seq;
  model.require(next);  // a reply acknowledged a change the copy has not seen (not made yet here)
  EXPECT_EQ(model.list(), std::nullopt);
  EXPECT_EQ(model.inspect("later"), std::nullopt);
  core_->create(named("later"));
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("later").has_value(); }, 5s));
  EXPECT_EQ(model.list()->size(), 1u);
}

// The containerd-bridge's client of the volumes service: each reply's volume stamp is kept, the
// highest of the latest run, so the bridge's replies cover the volumes it made or removed.
TEST_F(VolumeFeedToModelTest, TheBridgesClientKeepsTheHighestVolumeStampTheRepliesCarried) {
  bridge::VolumeServiceClient bridgeSide(context_, rpcEndpoint_);
  EXPECT_EQ(bridgeSide.volumeViews().epoch, 0u);
  auto made = bridgeSide.create({"", "", {}, {}, true}, deadlineIn(5s));
  EXPECT_EQ(bridgeSide.volumeViews().epoch, feed_->stamp().epoch);
  EXPECT_EQ(bridgeSide.volumeViews().seq, 1u);
  bridgeSide.remove(made.name, deadlineIn(5s));
  EXPECT_EQ(bridgeSide.volumeViews().seq, 2u);
  EXPECT_EQ(feed_->stamp().seq, 2u);
}

TEST(ViewStampRelayTest, ALaterRunReplacesTheStampAndALateOneOfAnEarlierRunIsIgnored) {
  ipc::ViewStampRelay relay;
  relay.observe({0, 9});  // a reply of a producer that keeps no views
  EXPECT_EQ(relay.current().epoch, 0u);
  relay.observe({5, 3});
  relay.observe({5, 7});
  relay.observe({5, 4});  // a reply that left earlier, read later
  EXPECT_EQ(relay.current().seq, 7u);
  relay.observe({6, 1});  // the producer restarted
  EXPECT_EQ(relay.current().epoch, 6u);
  EXPECT_EQ(relay.current().seq, 1u);
  relay.observe({5, 20});  // the replaced run's, late
  EXPECT_EQ(relay.current().epoch, 6u);
  EXPECT_EQ(relay.current().seq, 1u);
}

}  // namespace
}  // namespace berth::volumes
