// planMountPoints against what dockerd 20.10 answered for the same requests (docker create
// through the CLI on the reference engine): the mount points and their inspect fields, and the
// refusals word for word.
#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/containerd-bridge/mount_points.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

std::vector<MountPoint> plan(const json& hostConfig, const json& config = json::object(),
                             const MountPointsOf& of = [](const std::string& ref) -> std::vector<MountPoint> {
                               throw Error(ErrorKind::notFound, "No such container: " + ref);
                             }) {
  return planMountPoints(config, hostConfig, of);
}

std::string refusal(const json& hostConfig, const json& config = json::object()) {
  try {
    plan(hostConfig, config);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

json inspected(const std::vector<MountPoint>& points) {
  json out = json::object();
  for (const auto& p : points) out[p.destination] = p.toJson();
  return out;
}

TEST(MountPointsTest, BindsVolumesAndTmpfsMountsAreShownAsDockerdShowsThem) {
  auto points = plan({{"Binds", {"/tmp/refbind:/b:ro", "named1:/n", "named2:/n2:nocopy,ro"}},
                      {"Mounts",
                       {{{"Type", "tmpfs"}, {"Target", "/t"}},
                        {{"Type", "volume"}, {"Source", "named3"}, {"Target", "/m3"}},
                        {{"Type", "bind"}, {"Source", "/tmp/refbind"}, {"Target", "/b2"}}}}},
                     {{"Volumes", {{"/anon", json::object()}}}});
  auto m = inspected(points);
  ASSERT_EQ(m.size(), 7u);
  // Type, mode, RW and propagation as dockerd's inspect gave them.
  auto check = [&](const std::string& dst, const std::string& type, const std::string& mode, bool rw,
                   const std::string& propagation) {
    SCOPED_TRACE(dst);
    EXPECT_EQ(m[dst]["Type"], type);
    EXPECT_EQ(m[dst]["Mode"], mode);
    EXPECT_EQ(m[dst]["RW"], rw);
    EXPECT_EQ(m[dst]["Propagation"], propagation);
  };
  check("/b", "bind", "ro", false, "rprivate");
  check("/b2", "bind", "", true, "rprivate");
  check("/n", "volume", "z", true, "");
  check("/n2", "volume", "nocopy,ro", false, "");
  check("/m3", "volume", "z", true, "");
  check("/anon", "volume", "", true, "");
  check("/t", "tmpfs", "", true, "");
  EXPECT_EQ(m["/b"]["Source"], "/tmp/refbind");
  EXPECT_EQ(m["/n"]["Name"], "named1");
  EXPECT_EQ(m["/n2"]["CopyData"], false);
  EXPECT_EQ(m["/n"]["CopyData"], true);
  EXPECT_EQ(m["/anon"]["Anonymous"], true);
  EXPECT_EQ(m["/n"]["Anonymous"], false);
}

TEST(MountPointsTest, AnImageVolumeUnderAnotherMountGetsNoAnonymousVolume) {
  auto points = plan({{"Binds", {"data:/data"}}, {"Tmpfs", {{"/run", ""}}}},
                     {{"Volumes", {{"/data", json::object()}, {"/run", json::object()}, {"/cache", json::object()}}}});
  auto m = inspected(points);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["/data"]["Name"], "data");
  EXPECT_TRUE(m["/cache"]["Anonymous"].get<bool>());
}

TEST(MountPointsTest, MalformedEntriesAreRefusedInDockerdsWords) {
  EXPECT_EQ(refusal({{"Binds", {"v1:/x", "v2:/x"}}}), "Duplicate mount point: /x");
  EXPECT_EQ(refusal({{"Binds", {"v1:/x"}}, {"Tmpfs", {{"/x", ""}}}}), "Duplicate mount point: /x");
  EXPECT_EQ(refusal({{"Binds", {"v1:rel"}}}),
            "invalid volume specification: 'v1:rel': invalid mount config for type \"volume\": invalid mount path: "
            "'rel' mount path must be absolute");
  EXPECT_EQ(refusal({{"Binds", {"v1:/x:bogus"}}}), "invalid mode: bogus");
  EXPECT_EQ(refusal({{"Binds", {"/tmp:/y:nocopy"}}}),
            "invalid volume specification: '/tmp:/y:nocopy': invalid mount config for type \"bind\": field "
            "VolumeOptions must not be specified");
  EXPECT_EQ(refusal({{"Binds", {"a:b:c:d"}}}), "invalid volume specification: 'a:b:c:d'");
  EXPECT_EQ(refusal({{"Mounts", {{{"Type", "volume"}, {"Target", "rel"}}}}}),
            "invalid mount config for type \"volume\": invalid mount path: 'rel' mount path must be absolute");
  EXPECT_EQ(refusal({{"VolumesFrom", {"nosuch"}}}), "No such container: nosuch");
}

TEST(MountPointsTest, VolumesFromTakesTheOthersMountsAndItsOwnMountsTakeTheirPlaces) {
  MountPoint shared;
  shared.type = MountPoint::Type::volume;
  shared.name = "abc";
  shared.destination = "/shared";
  shared.anonymous = true;
  MountPoint other = shared;
  other.name = "other";
  other.destination = "/other";
  auto points = plan({{"VolumesFrom", {"owner:ro"}}, {"Binds", {"mine:/other"}}}, json::object(),
                     [&](const std::string& ref) {
                       EXPECT_EQ(ref, "owner");
                       return std::vector<MountPoint>{shared, other};
                     });
  auto m = inspected(points);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m["/shared"]["Name"], "abc");
  EXPECT_EQ(m["/shared"]["RW"], false);
  // Borrowed, not owned: removing this container with -v keeps it.
  EXPECT_EQ(m["/shared"]["Anonymous"], false);
  EXPECT_EQ(m["/other"]["Name"], "mine");
}

TEST(MountPointsTest, TheSpecBuilderGetsBindsAndTmpfsButNotVolumes) {
  json h = hostConfigForSpec({{"Binds", {"/srv:/srv", "data:/data", "/x"}},
                              {"Mounts",
                               {{{"Type", "volume"}, {"Source", "v"}, {"Target", "/v"}},
                                {{"Type", "tmpfs"}, {"Target", "/t"}}}},
                              {"VolumesFrom", {"owner"}}});
  EXPECT_EQ(h["Binds"], json({"/srv:/srv"}));
  EXPECT_EQ(h["Mounts"], json({{{"Type", "tmpfs"}, {"Target", "/t"}}}));
  EXPECT_FALSE(h.contains("VolumesFrom"));
}

TEST(MountPointsTest, MountsAreOrderedParentFirst) {
  json mounts = {{{"destination", "/data/conf"}}, {{"destination", "/proc"}}, {{"destination", "/data"}},
                 {{"destination", "/dev/pts"}}, {{"destination", "/dev"}}};
  sortMountsByDepth(mounts);
  std::vector<std::string> order;
  for (const auto& m : mounts) order.push_back(m["destination"]);
  EXPECT_EQ(order, (std::vector<std::string>{"/proc", "/data", "/dev", "/data/conf", "/dev/pts"}));
}

}  // namespace
}  // namespace berth::bridge
