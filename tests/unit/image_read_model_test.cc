// The API's read model of images over the images service's half (the views channel of
// ImageViewFeed over a real image store, and a real RPC server answering imageViews): after
// each kind of change (load, tag, a tag moved to another image, untag, delete, commit) the model
// holds the store's images and resolves every name to the image the store resolves it to; names
// the store refuses or does not know are left to it; a stamp not reached yet makes the model
// decline. Also the containerd-bridge's half: its client of the images service keeps the
// highest image stamp a commit's reply carried, which the bridge's own replies pass on. The
// protocol's rules (snapshot and mark, gaps, epochs) are shared with the containers' model and
// tested there (container_read_model_test.cc); the real engine is in
// tests/integration/image_read_model_test.cc.
#include "services/images/public/image_read_model.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "common/errors.h"
#include "common/json_text.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/rpc_server.h"
#include "services/containerd-bridge/container_layers_client.h"
#include "services/images/image_store.h"
#include "services/images/image_view_feed.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::images {
namespace {

using namespace std::chrono_literals;

class ImageFeedToModelTest : public ::testing::Test {
 protected:
  ImageFeedToModelTest() {
    test::TarBuilder base;
    base.dir("bin").file("bin/busybox", std::string(5000, 'b'), 0755).symlink("bin/sh", "busybox");
    base.write(dir_.path() + "/base.tar");
    store_ = std::make_unique<ImageStore>(dir_.path() + "/store");
    feed_ = std::make_unique<ImageViewFeed>(context_, viewsEndpoint_, *store_);
    server_.handle(ipc::methods::imagesImageViews(), [this](auto, auto r) { feed_->snapshot(r); });
    server_.handle(ipc::methods::imagesCommit(), [this](ipc::Images::CommitParams::Reader p, auto r) {
      r.setId(store_->commitContainer(p.getContainer(), parseJsonOrDiscarded(ipc::textView(p.getConfig())),
                                      p.getReference(), p.getMessage(), p.getAuthor(), ipc::texts(p.getChanges())));
    });
    server_.start();
  }
  ~ImageFeedToModelTest() override { server_.stop(); }

  // Loads a one-layer image whose command is `cmd` (a different image per command), tagged
  // `tags`; returns its id.
  std::string load(const std::vector<std::string>& tags, const std::string& cmd) {
    std::string path = dir_.path() + "/" + cmd + ".tar";
    std::string id = test::makeDockerArchive(path, {dir_.path() + "/base.tar"}, tags, dir_.path(), {}, cmd);
    store_->load(path);
    return id;
  }

  // The model holds what the store holds now, and resolves each of `names` as the store does.
  void expectModelAgrees(ImageReadModel& model, const std::vector<std::string>& names) {
    model.require(feed_->stamp());
    std::optional<std::vector<std::shared_ptr<const ImageInfo>>> listed;
    ASSERT_TRUE(test::waitFor([&] { return (listed = model.list()).has_value(); }, 5s))
        << "the model never reached the feed's own stamp";
    auto held = store_->list();
    ASSERT_EQ(listed->size(), held.size());
    for (size_t i = 0; i < held.size(); ++i) {
      const ImageInfo& got = *(*listed)[i];
      const ImageView& want = held[i];
      EXPECT_EQ(got.id, want.id);
      EXPECT_EQ(got.repoTags, want.repoTags) << want.id;
      EXPECT_EQ(got.repoDigests, want.repoDigests) << want.id;
      EXPECT_EQ(got.configJson, want.configJson);
      EXPECT_EQ(got.diffIds, want.diffIds);
      EXPECT_EQ(got.layerDirs, want.layerDirs);
      EXPECT_EQ(got.layerSizes, want.layerSizes);
      EXPECT_EQ(got.size, want.size);
      EXPECT_EQ(got.loadedAtNano, want.loadedAtNano);
      EXPECT_EQ(got.lastTagTimeNano, want.lastTagTimeNano) << want.id;
    }
    for (const auto& name : names) {
      std::string want;
      try {
        want = store_->get(name).id;
      } catch (const Error&) {
        EXPECT_EQ(model.inspect(name), nullptr) << name << ": the store does not resolve it, the model must not";
        continue;
      }
      auto got = model.inspect(name);
      ASSERT_NE(got, nullptr) << name;
      EXPECT_EQ(got->id, want) << name;
    }
  }

  test::TempDir dir_{"berth-image-views"};
  std::unique_ptr<ImageStore> store_;
  zmq::context_t context_;
  std::string rpcEndpoint_ = "ipc://" + dir_.path() + "/images.sock";
  std::string viewsEndpoint_ = "ipc://" + dir_.path() + "/views.sock";
  std::unique_ptr<ImageViewFeed> feed_;
  ipc::RpcServer server_{context_, rpcEndpoint_};
  ipc::RpcClient client_{context_, rpcEndpoint_};
};

TEST_F(ImageFeedToModelTest, AfterEachKindOfChangeTheModelHoldsTheStoresImagesAndResolvesNamesAsItDoes) {
  std::string first = load({"registry.local/app:v1"}, "first");  // in the snapshot
  ImageReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("registry.local/app:v1") != nullptr; }, 5s));
  EXPECT_EQ(feed_->stamp().seq, 1u);

  store_->tag("registry.local/app:v1", "app");            // app:latest
  store_->tag(first.substr(7, 12), "other/name:v2");
  std::string second = load({"registry.local/app:v1"}, "second");  // takes the tag from the first
  store_->remove("other/name:v2", false, false);                  // an untag
  std::string third = load({"third:1"}, "third");
  store_->remove(third, false, false);                             // deleted
  // A tag moved one way and back: one of the two changes holds the image losing it after the
  // one gaining it, whichever id sorts first.
  store_->tag(first, "moved:1");
  store_->tag(second, "moved:1");
  store_->tag(first, "moved:1");
  EXPECT_EQ(feed_->stamp().seq, 10u);
  expectModelAgrees(model, {"registry.local/app:v1", "registry.local/app", "app", "app:latest", "other/name:v2",
                            first, first.substr(7), first.substr(7, 12), second.substr(0, 19), third, "third:1",
                            "sha256:" + std::string(64, 'f'), "Bad//Name", "", "app@sha256:" + std::string(64, 'a'),
                            "moved:1"});
  ASSERT_FALSE(HasFatalFailure());
  auto idOf = [&](const std::string& name) {
    auto image = model.inspect(name);
    return image ? image->id : "(declined)";
  };
  EXPECT_EQ(idOf("moved:1"), first);
  EXPECT_EQ(idOf("registry.local/app:v1"), second);
  EXPECT_EQ(idOf("app"), first);
  ASSERT_NE(model.inspect(first), nullptr);
  EXPECT_EQ(model.inspect(first)->repoTags, (std::vector<std::string>{"app:latest", "moved:1"}));
  EXPECT_EQ(model.inspect("third:1"), nullptr);
  EXPECT_EQ(model.inspect(third), nullptr);
  EXPECT_GE(model.counts().changes, 6u);
  // The channel numbered them one by one: the model followed them without a new snapshot
  // (unless the first snapshot's mark was lost, which takes another).
  EXPECT_LE(model.counts().snapshots, 2u);
}

TEST_F(ImageFeedToModelTest, AStampItHasNotReachedMakesItDeclineUntilTheChangeArrives) {
  ImageReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.list().has_value(); }, 5s));
  auto next = feed_->stamp();
  ++next.seq;
  model.require(next);  // a reply acknowledged a change the copy has not seen (not made yet here)
  EXPECT_EQ(model.list(), std::nullopt);
  EXPECT_EQ(model.inspect("later:1"), nullptr);
  std::string later = load({"later:1"}, "later");
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("later:1") != nullptr; }, 5s));
  EXPECT_EQ(model.inspect("later:1")->id, later);
  EXPECT_EQ(model.list()->size(), 1u);
}

// The containerd-bridge's client of the images service for containers' layers: a commit makes
// an image, and the reply's image stamp is kept, so the bridge's replies cover the image.
TEST_F(ImageFeedToModelTest, TheBridgesClientKeepsTheImageStampACommitsReplyCarried) {
  load({"app:1"}, "base");
  std::string container(64, 'c');
  std::string imageId;
  store_->prepareContainerLayer(container, "app:1", imageId);
  ImageReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("app:1") != nullptr; }, 5s));
  bridge::ContainerLayersClient bridgeSide(context_, rpcEndpoint_);
  EXPECT_EQ(bridgeSide.imageViews().epoch, 0u);
  uint64_t before = feed_->stamp().seq;
  std::string committed = bridgeSide.commit(container, {nlohmann::json::object(), {}, "app:committed", "", ""},
                                            deadlineIn(10s));
  EXPECT_EQ(store_->get("app:committed").id, committed);
  EXPECT_EQ(bridgeSide.imageViews().epoch, feed_->stamp().epoch);
  EXPECT_EQ(bridgeSide.imageViews().seq, before + 1);
  EXPECT_EQ(feed_->stamp().seq, before + 1);
  // The model, held to the stamp the bridge passes on, has the committed image.
  model.require(bridgeSide.imageViews());
  expectModelAgrees(model, {"app:committed", committed, "app:1"});
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(model.inspect("app:committed")->id, committed);
}

}  // namespace
}  // namespace berth::images
