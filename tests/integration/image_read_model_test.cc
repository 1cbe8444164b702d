// The API's read model of images (docs/ipc.md, "Image views"): GET /images/{name}/json,
// GET /images/{name}/history, GET /images/json and the images of GET /system/df answered from
// the API's copy of the images service's images. What must hold: the copy answers (it keeps answering with the images
// service frozen, which shows that no RPC was made), it answers what the service holds, and no
// read shows a state older than a write the client saw acknowledged, including the images the
// containerd-bridge commits.
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <algorithm>

#include "ipc/rpc_client.h"
#include "services/images/public/images_client.h"
#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

class ImageReadModelTest : public ContainersTest {
 protected:
  HttpResult get(const std::string& target) { return httpRequest(engine_.socketPath(), "GET", target); }
  json inspect(const std::string& name) { return bodyOf(get("/v1.43/images/" + name + "/json")); }
  int status(const std::string& name) { return get("/v1.43/images/" + name + "/json").status; }
  // The tags of every listed image.
  std::vector<std::string> tags() {
    auto r = get("/v1.43/images/json");
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
    std::vector<std::string> out;
    for (const auto& image : bodyOf(r)) {
      for (const auto& t : image.value("RepoTags", json::array())) out.push_back(t);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string idOf(const CommandResult& r) { return trimNewline(r.out); }
  std::string imagesEndpoint() { return "ipc://" + engine_.execRoot() + "/ipc/images.sock"; }
};

TEST_F(ImageReadModelTest, InspectHistoryAndListAnswerWithTheImagesServiceFrozenSoNoRpcIsMade) {
  ASSERT_EQ(engine_.docker({"tag", kImage, "frozen/read:1"}).exitCode, 0);
  std::string id = idOf(engine_.docker({"image", "inspect", "-f", "{{.Id}}", kImage}));
  ASSERT_EQ(id.size(), 71u) << id;
  // What the images service itself holds, asked over its own RPC.
  zmq::context_t context;
  images::ImagesClient service(context, imagesEndpoint());
  auto held = service.inspect("frozen/read:1", ipc::deadlineIn(10s));
  ASSERT_EQ(held.id, id);
  auto config = json::parse(held.configJson);
  {
    auto frozen = freezeOnceAnsweredWithout(engine_.childPid("images"), "/v1.43/images/json");
    ASSERT_TRUE(frozen) << "the copy never answered with the images service frozen";
    // A name the copy does not know waits for the frozen service: the proof that it is frozen.
    auto waiting = rawRequest(engine_.socketPath(),
                              "GET /v1.43/images/no-such:1/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    EXPECT_TRUE(waiting.timedOut) << waiting.status << " " << waiting.body.substr(0, 200);
    // By name, short name, id and id prefix, as the service resolves them.
    for (const std::string& name : {std::string("frozen/read:1"), kImage, id, id.substr(7), id.substr(7, 12)}) {
      auto doc = inspect(name);
      EXPECT_EQ(doc["Id"], id) << name;
      EXPECT_EQ(doc["RepoTags"], json(held.repoTags)) << name;
      EXPECT_EQ(doc["Size"], held.size) << name;
      EXPECT_EQ(doc["Config"], config["config"]) << name;
      EXPECT_EQ(doc["RootFS"]["Layers"], json(held.diffIds)) << name;
    }
    EXPECT_EQ(held.repoTags, (std::vector<std::string>{kImage, "frozen/read:1"}));
    EXPECT_EQ(tags(), (std::vector<std::string>{kImage, "frozen/read:1"}));
    auto history = get("/v1.43/images/frozen/read:1/history");
    ASSERT_EQ(history.status, 200) << history.body;
    ASSERT_FALSE(bodyOf(history).empty()) << history.body;
    EXPECT_EQ(bodyOf(history)[0]["Id"], id);
    // `docker system df`'s images as well: its sizes as the service holds them.
    auto df = get("/v1.43/system/df?type=image");
    ASSERT_EQ(df.status, 200) << df.body.substr(0, 300);
    auto usage = bodyOf(df);
    ASSERT_EQ(usage["Images"].size(), 1u) << df.body.substr(0, 300);
    EXPECT_EQ(usage["Images"][0]["Id"], id);
    EXPECT_EQ(usage["Images"][0]["Size"], held.size);
    EXPECT_EQ(usage["LayersSize"], held.size);
  }
  // Thawed, the service answers what the copy declines, in its own words (dockerd's).
  auto missing = get("/v1.43/images/no-such:1/json");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(bodyOf(missing)["message"], "No such image: no-such:1");
  auto malformed = get("/v1.43/images/Bad//Name/json");
  EXPECT_EQ(malformed.status, 400) << malformed.body;
}

// Each write acknowledged to the client, then at once a read on a new connection: the read
// shows the write, every time, whether the API or the containerd-bridge (commit) asked the
// images service for it.
TEST_F(ImageReadModelTest, EveryReadAfterAnAcknowledgedWriteShowsIt) {
  std::string container = runDetached({"--network", "none", kImage, "sh", "-c", "echo x > /made; sleep 60"});
  ASSERT_FALSE(container.empty());
  for (int round = 0; round < 4; ++round) {
    std::string tag = "rw/tagged:" + std::to_string(round);
    EXPECT_EQ(inspect(kImage)["RepoTags"], json::array({kImage}));  // rendered now, before the tag
    ASSERT_EQ(engine_.docker({"tag", kImage, tag}).exitCode, 0);
    EXPECT_EQ(status(tag), 200);
    EXPECT_EQ(inspect(kImage)["RepoTags"], json::array({kImage, tag}));
    EXPECT_EQ(tags(), (std::vector<std::string>{kImage, tag}));

    std::string committedTag = "rw/committed:" + std::to_string(round);
    auto committed = engine_.docker({"commit", container, committedTag});
    ASSERT_EQ(committed.exitCode, 0) << committed.err;
    auto doc = inspect(committedTag);
    EXPECT_EQ(doc["Id"], idOf(committed)) << doc;
    EXPECT_EQ(tags(), (std::vector<std::string>{kImage, committedTag, tag}));

    ASSERT_EQ(engine_.docker({"rmi", tag}).exitCode, 0);
    EXPECT_EQ(status(tag), 404);
    EXPECT_EQ(inspect(kImage)["RepoTags"], json::array({kImage}));
    ASSERT_EQ(engine_.docker({"rmi", committedTag}).exitCode, 0);
    EXPECT_EQ(status(committedTag), 404);
    EXPECT_EQ(status(idOf(committed)), 404);
    EXPECT_EQ(tags(), std::vector<std::string>{kImage});
  }
}

// The reads above cannot show whether the bridge passes the images service's stamps on: its own
// reply reaches the client long after the images service published the change. Its replies'
// stamps can: after the bridge committed an image, any reply of the bridge carries the image
// stamp the images service itself replies with (no other change was made meanwhile).
TEST_F(ImageReadModelTest, TheBridgesRepliesCarryTheImageStampOfTheImageItCommitted) {
  auto stampOf = [&](const std::string& service) { return viewStampOf(service, ipc::ViewKind::images); };
  std::string container = runDetached({"--network", "none", kImage, "sleep", "60"});
  ASSERT_FALSE(container.empty());
  auto before = stampOf("images");
  EXPECT_NE(before.epoch, 0u);
  ASSERT_EQ(engine_.docker({"commit", container, "stamped:1"}).exitCode, 0);
  auto fromImages = stampOf("images");
  auto fromBridge = stampOf("containerd-bridge");
  EXPECT_EQ(fromImages.epoch, before.epoch);
  EXPECT_GT(fromImages.seq, before.seq);
  EXPECT_EQ(fromBridge.epoch, fromImages.epoch);
  EXPECT_EQ(fromBridge.seq, fromImages.seq);
}

// kill -9 of the images service: a write answered by the new run (its stamp) makes the copy
// decline until it holds the new run's snapshot, and the copy then answers again on its own.
TEST_F(ImageReadModelTest, AfterTheImagesServiceRestartsReadsFollowTheNewRun) {
  ASSERT_EQ(engine_.docker({"tag", kImage, "restart/gone:1"}).exitCode, 0);
  pid_t imagesPid = engine_.killAndAwaitRestart("images");
  ASSERT_EQ(engine_.docker({"rmi", "restart/gone:1"}).exitCode, 0);
  EXPECT_EQ(status("restart/gone:1"), 404);
  EXPECT_EQ(tags(), std::vector<std::string>{kImage});
  ASSERT_EQ(engine_.docker({"tag", kImage, "restart/after:1"}).exitCode, 0);
  EXPECT_EQ(tags(), (std::vector<std::string>{kImage, "restart/after:1"}));
  // The copy takes the new run's snapshot and answers on its own.
  auto frozen = freezeOnceAnsweredWithout(imagesPid, "/v1.43/images/json");
  ASSERT_TRUE(frozen) << "the copy never answered with the new run frozen";
  EXPECT_EQ(status("restart/after:1"), 200);
  EXPECT_EQ(tags(), (std::vector<std::string>{kImage, "restart/after:1"}));
}

}  // namespace
}  // namespace berth::test
