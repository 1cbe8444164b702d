// A container's volumes through the containers core and the fake volumes service: made and
// referenced at create (filled from the image there, as dockerd does), mounted for each run and
// unmounted after it, released at removal (anonymous ones removed with -v and --rm), nothing
// left behind by a create that fails, and the service's tables made whole again by the
// reconcile after it missed a call or lost its state.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "common/files.h"
#include "tests/unit/core_fixture.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

using Kind = HostOps::RootfsEntry::Kind;

class ContainerVolumesTest : public CoreFixture {
 protected:
  std::string rootfsOf(const std::string& id) { return dir_.path() + "/run/" + id + "/rootfs"; }
  std::vector<MountPoint> pointsOf(const std::string& id) { return record(id).mountPoints; }
  const MountPoint* pointAt(const std::vector<MountPoint>& points, const std::string& destination) {
    for (const auto& p : points) {
      if (p.destination == destination) return &p;
    }
    return nullptr;
  }
  // The spec the container's last start gave containerd.
  json specOf(const std::string& id) {
    auto text = readFileIfExists(store_->directoryOf(id) + "/spec.json");
    EXPECT_TRUE(text.has_value());
    return text ? json::parse(*text) : json();
  }
  std::vector<std::string> specDestinations(const std::string& id) {
    std::vector<std::string> out;
    json spec = specOf(id);
    for (const auto& m : spec["mounts"]) out.push_back(m["destination"]);
    return out;
  }
  const json* specMount(const json& spec, const std::string& destination) {
    for (const auto& m : spec["mounts"]) {
      if (m["destination"] == destination) return &m;
    }
    return nullptr;
  }
};

TEST_F(ContainerVolumesTest, CreateMakesNamedAndAnonymousVolumesAndReferencesThem) {
  std::string id = create({{"Binds", {"data:/data", "/srv:/srv:ro"}}}, {{"Volumes", {{"/cache", json::object()}}}});
  auto points = pointsOf(id);
  ASSERT_EQ(points.size(), 3u);
  const MountPoint* data = pointAt(points, "/data");
  const MountPoint* cache = pointAt(points, "/cache");
  const MountPoint* srv = pointAt(points, "/srv");
  ASSERT_TRUE(data && cache && srv);
  EXPECT_EQ(data->type, MountPoint::Type::volume);
  EXPECT_EQ(data->name, "data");
  EXPECT_EQ(data->source, "/volumes/data/_data");
  EXPECT_FALSE(data->anonymous);
  EXPECT_EQ(cache->type, MountPoint::Type::volume);
  EXPECT_TRUE(cache->anonymous);
  EXPECT_FALSE(cache->name.empty());
  EXPECT_EQ(srv->type, MountPoint::Type::bind);
  EXPECT_FALSE(srv->readWrite);
  EXPECT_EQ(volumes_.referencedBy(id), (std::set<std::string>{"data", cache->name}));
  // Nothing is mounted before a start.
  EXPECT_EQ(volumes_.mounts("data"), 0);
}

TEST_F(ContainerVolumesTest, TheImageContentIsCopiedInAtCreateFromDirectoriesOnlyAndNotWithNocopy) {
  host_.imageHas("/data", Kind::directory);
  host_.imageHas("/plain", Kind::directory);
  host_.imageHas("/etc/app.conf", Kind::other);
  std::string id = create({{"Binds", {"data:/data", "plain:/plain:nocopy", "conf:/etc/app.conf", "empty:/nothing"}}});
  EXPECT_EQ(volumes_.populatedFrom("data"), (std::vector<std::string>{rootfsOf(id) + "/data"}));
  EXPECT_TRUE(volumes_.populatedFrom("plain").empty());
  EXPECT_TRUE(volumes_.populatedFrom("conf").empty());
  EXPECT_TRUE(volumes_.populatedFrom("empty").empty());
  // The root filesystem was mounted for the copy only.
  EXPECT_FALSE(host_.mounted(rootfsOf(id)));
}

TEST_F(ContainerVolumesTest, AnAnonymousVolumeOverAFileIsRefusedAndTheCreateLeavesNothing) {
  host_.imageHas("/etc/app.conf", Kind::other);
  json body = {{"Image", kImage}, {"Cmd", {"true"}}, {"Volumes", {{"/etc/app.conf", json::object()}}},
               {"HostConfig", {{"Binds", {"kept:/kept"}}}}};
  std::string message;
  try {
    core_->create("web", body, soon());
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_EQ(message.rfind("cannot mount volume over existing file, file exists ", 0), 0u) << message;
  EXPECT_NE(message.find("/rootfs/etc/app.conf"), std::string::npos) << message;
  // The anonymous volume it made is gone, the named one stays (dockerd keeps it too), no
  // reference is held, the name is free and no layer is kept.
  EXPECT_EQ(volumes_.names(), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(store_->list().empty());
  host_.imageHas("/etc/app.conf", Kind::absent);
  std::string id = core_->create("web", body, soon()).id;
  EXPECT_EQ(record(id).name, "/web");
}

TEST_F(ContainerVolumesTest, EachRunMountsTheVolumesAndBindsThemInDepthOrderAndTheExitUnmountsThem) {
  std::string id = create({{"Binds", {"/host/conf:/data/conf:ro", "data:/data"}}});
  ASSERT_TRUE(core_->start(id, soon()));
  EXPECT_EQ(volumes_.mounts("data"), 1);
  json spec = specOf(id);
  const json* data = specMount(spec, "/data");
  ASSERT_TRUE(data);
  EXPECT_EQ((*data)["type"], "bind");
  EXPECT_EQ((*data)["source"], "/volumes/data/_data");
  EXPECT_EQ((*data)["options"], json({"rbind", "rw", "rprivate"}));
  // The volume at /data comes before the bind inside it, whatever order the client gave.
  auto destinations = specDestinations(id);
  auto at = [&](const std::string& d) { return std::find(destinations.begin(), destinations.end(), d) - destinations.begin(); };
  EXPECT_LT(at("/data"), at("/data/conf"));
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(volumes_.mounts("data"), 0);
  // A second run mounts them again.
  ASSERT_TRUE(core_->start(id, soon()));
  EXPECT_EQ(volumes_.mounts("data"), 1);
}

TEST_F(ContainerVolumesTest, RemoveReleasesTheVolumesAndWithVRemovesOnlyTheAnonymousOnes) {
  std::string kept = create({{"Binds", {"data:/data"}}}, {{"Volumes", {{"/cache", json::object()}}}});
  std::string keptAnonymous = pointAt(pointsOf(kept), "/cache")->name;
  core_->remove(kept, false, false, soon());
  EXPECT_TRUE(volumes_.referencedBy(kept).empty());
  EXPECT_TRUE(volumes_.exists("data"));
  EXPECT_TRUE(volumes_.exists(keptAnonymous));

  std::string gone = create({{"Binds", {"data:/data"}}}, {{"Volumes", {{"/cache", json::object()}}}});
  std::string goneAnonymous = pointAt(pointsOf(gone), "/cache")->name;
  core_->remove(gone, false, true, soon());
  EXPECT_TRUE(volumes_.exists("data"));
  EXPECT_FALSE(volumes_.exists(goneAnonymous));
}

TEST_F(ContainerVolumesTest, AutoRemoveTakesTheAnonymousVolumesButNotOnesAnotherContainerUses) {
  std::string owner = create(json::object(), {{"Volumes", {{"/shared", json::object()}}}});
  std::string shared = pointAt(pointsOf(owner), "/shared")->name;
  std::string user = create({{"VolumesFrom", {owner}}, {"AutoRemove", true}});
  // The user's mount point is the owner's volume, not an anonymous one of its own. The points
  // are held: a pointer into the temporary pointsOf() returns dangles (ASan, issue 14).
  std::vector<MountPoint> points = pointsOf(user);
  const MountPoint* borrowed = pointAt(points, "/shared");
  ASSERT_TRUE(borrowed);
  EXPECT_EQ(borrowed->name, shared);
  EXPECT_FALSE(borrowed->anonymous);
  ASSERT_TRUE(core_->start(user, soon()));
  fake_.exitTask(user, 0);
  ASSERT_TRUE(waitUntil([&] {
    try {
      store_->get(user);
      return false;
    } catch (const Error&) {
      return true;
    }
  }));
  EXPECT_TRUE(volumes_.exists(shared));
  EXPECT_EQ(volumes_.referencedBy(owner), (std::set<std::string>{shared}));
}

TEST_F(ContainerVolumesTest, VolumesFromTakesTheOtherContainersMountsReadOnlyWhenAsked) {
  std::string owner = create({{"Binds", {"data:/data", "/srv:/srv"}}});
  std::string user = create({{"VolumesFrom", {owner + ":ro"}}});
  auto points = pointsOf(user);
  ASSERT_EQ(points.size(), 2u);
  EXPECT_FALSE(pointAt(points, "/data")->readWrite);
  EXPECT_FALSE(pointAt(points, "/srv")->readWrite);
  EXPECT_EQ(volumes_.referencedBy(user), (std::set<std::string>{"data"}));
  EXPECT_EQ(refusal([&] { create({{"VolumesFrom", {"nosuch"}}}); }), "No such container: nosuch");
}

TEST_F(ContainerVolumesTest, WithTheServiceDownACreateThatNeedsAVolumeFailsCleanlyAndOthersWork) {
  volumes_.down(true);
  json body = {{"Image", kImage}, {"Cmd", {"true"}}, {"HostConfig", {{"Binds", {"data:/data"}}}}};
  try {
    core_->create("db", body, soon());
    ADD_FAILURE() << "the create succeeded without the volumes service";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unavailable) << e.what();
  }
  EXPECT_TRUE(store_->list().empty());
  // Binds need no service.
  std::string id = create({{"Binds", {"/srv:/srv"}}});
  ASSERT_TRUE(core_->start(id, soon()));
  volumes_.down(false);
  EXPECT_EQ(record(core_->create("db", body, soon()).id).name, "/db");
}

TEST_F(ContainerVolumesTest, AnUnmountTheServiceMissedIsMadeGoodByTheReconcile) {
  std::string id = run({{"Binds", {"data:/data"}}});
  ASSERT_EQ(volumes_.mounts("data"), 1);
  volumes_.down(true);
  size_t timers = scheduler_.delays().size();
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  // The first reconcile ran and failed (the service is still down), and scheduled a retry.
  ASSERT_TRUE(waitUntil([&] { return scheduler_.delays().size() > timers; }));
  EXPECT_EQ(volumes_.mounts("data"), 1);
  volumes_.down(false);
  int before = volumes_.reconciles();
  scheduler_.fireTimers();  // the retry
  EXPECT_EQ(volumes_.reconciles(), before + 1);
  EXPECT_EQ(volumes_.mounts("data"), 0);
  EXPECT_EQ(volumes_.referencedBy(id), (std::set<std::string>{"data"}));
}

TEST_F(ContainerVolumesTest, ARestoredBridgeGivesTheServiceItsWholeViewOfReferencesAndMounts) {
  std::string running = run({{"Binds", {"data:/data"}}});
  std::string stopped = create({{"Binds", {"logs:/logs"}}});
  // The service lost its tables (its state directory was wiped, say).
  volumes_.reconcile({}, soon());
  ASSERT_TRUE(volumes_.referencedBy(running).empty());
  int before = volumes_.reconciles();
  restartBridge();
  ASSERT_TRUE(waitUntil([&] { return volumes_.reconciles() > before; }));
  EXPECT_EQ(volumes_.referencedBy(running), (std::set<std::string>{"data"}));
  EXPECT_EQ(volumes_.referencedBy(stopped), (std::set<std::string>{"logs"}));
  EXPECT_EQ(volumes_.mounts("data"), 1);
  EXPECT_EQ(volumes_.mounts("logs"), 0);
  // And the exit after the restore unmounts what the bridge before it mounted.
  fake_.exitTask(running, 0);
  ASSERT_TRUE(waitForStatus(running, ContainerStatus::exited));
  EXPECT_EQ(volumes_.mounts("data"), 0);
}

TEST_F(ContainerVolumesTest, ARemovalTheServiceCannotTakeFailsAndCanBeRepeated) {
  std::string id = create({{"Binds", {"data:/data"}}});
  volumes_.down(true);
  EXPECT_EQ(test::thrownKind([&] { core_->remove(id, false, false, soon()); }), "unavailable");
  EXPECT_EQ(status(id), ContainerStatus::dead);
  EXPECT_EQ(volumes_.referencedBy(id), (std::set<std::string>{"data"}));
  volumes_.down(false);
  core_->remove(id, false, false, soon());
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  EXPECT_TRUE(volumes_.referencedBy(id).empty());
}

}  // namespace
}  // namespace berth::bridge
