// The volumes core without IPC and without root (a fake kernel for device mounts): the store's
// layout and crash safety, the reference table's durability, and each method of the contract
// in ipc/schema/volumes.capnp with dockerd's messages and events. Expected texts come from
// dockerd 20.10 (/root/refcheck-REPORT.md case 9) or, where moby changed them since, from
// moby 24's source, as noted beside the assertion.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "common/files.h"
#include "services/volumes/reference_table.h"
#include "services/volumes/volume_store.h"
#include "services/volumes/volumes_core.h"
#include "tests/support/process.h"
#include "tests/unit/fake_mounter.h"

namespace berth::volumes {
namespace {

namespace fs = std::filesystem;

const std::string kC1(64, 'a');
const std::string kC2(64, 'b');

struct Event {
  std::string action, actor;
  VolumesCore::Attributes attrs;
};

class VolumesCoreTest : public ::testing::Test {
 protected:
  VolumesCoreTest() { reopen(); }

  void reopen() {
    core_.reset();
    core_ = std::make_unique<VolumesCore>(root(), kernel_, [this](const std::string& a, const std::string& id,
                                                                  const VolumesCore::Attributes& attrs) {
      events_.push_back({a, id, attrs});
    });
  }
  std::string root() const { return dir_.path() + "/volumes"; }

  // The error a call throws: "kind: message", or "ok".
  template <typename F>
  std::string refusal(F&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(errorKindName(e.kind())) + ": " + e.what();
    }
    return "ok";
  }

  std::vector<std::string> names(const std::string& filters = "") {
    std::vector<std::string> out;
    for (const auto& v : core_->list(filters, false)) out.push_back(v.record.name);
    return out;
  }

  std::vector<std::string> actions() const {
    std::vector<std::string> out;
    for (const auto& e : events_) out.push_back(e.action + " " + e.actor);
    return out;
  }

  VolumeView create(const std::string& name, std::map<std::string, std::string> options = {},
                    std::map<std::string, std::string> labels = {}) {
    return core_->create({name, "", std::move(labels), std::move(options), false}).first;
  }

  test::TempDir dir_{"berth-volumes"};
  FakeMounter kernel_;
  std::vector<Event> events_;
  std::unique_ptr<VolumesCore> core_;
};

TEST_F(VolumesCoreTest, CreateWritesTheVolumeWholeAndEmitsCreate) {
  auto [v, created] = core_->create({"data", "local", {{"a", "b"}}, {}, false});
  EXPECT_TRUE(created);
  EXPECT_EQ(v.record.name, "data");
  EXPECT_EQ(v.record.driver, "local");
  EXPECT_EQ(v.mountpoint, root() + "/data/_data");
  EXPECT_EQ(v.record.labels, (std::map<std::string, std::string>{{"a", "b"}}));
  EXPECT_FALSE(v.anonymous);
  EXPECT_GT(v.record.createdAtNano, 0);
  struct stat st {};
  ASSERT_EQ(::stat(v.mountpoint.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((root() + "/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0701u);
  auto record = recordFromJson(readFile(root() + "/data/volume.json"));
  EXPECT_EQ(record.labels.at("a"), "b");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].action, "create");
  EXPECT_EQ(events_[0].actor, "data");
  EXPECT_EQ(events_[0].attrs, (VolumesCore::Attributes{{"driver", "local"}}));
  EXPECT_EQ(core_->count(), 1u);
}

TEST_F(VolumesCoreTest, CreatingAnExistingVolumeReturnsItAsItIsWithoutAnEvent) {
  create("data", {}, {{"first", "1"}});
  events_.clear();
  auto [v, created] = core_->create({"data", "", {{"second", "2"}}, {{"foo", "bar"}}, false});
  EXPECT_FALSE(created);
  EXPECT_EQ(v.record.labels, (std::map<std::string, std::string>{{"first", "1"}}));
  // moby 23+ (moby#42028): no create event for an existing volume; dockerd 20.10 emitted one.
  EXPECT_TRUE(events_.empty());
}

TEST_F(VolumesCoreTest, AnAnonymousVolumeGetsA64HexNameAndMobysLabel) {
  auto [v, created] = core_->create({"", "", {}, {}, true});
  EXPECT_TRUE(created);
  EXPECT_EQ(v.record.name.size(), 64u);
  EXPECT_EQ(v.record.name.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(v.anonymous);
  EXPECT_EQ(v.record.labels, (std::map<std::string, std::string>{{"com.docker.volume.anonymous", ""}}));
}

TEST_F(VolumesCoreTest, RefusesBadNamesDriversAndOptionsWithDockerdsWordsAndLeavesNothing) {
  EXPECT_EQ(refusal([&] { create("bad name!"); }),
            "invalid: create bad name!: \"bad name!\" includes invalid characters for a local volume name, only "
            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
  EXPECT_EQ(refusal([&] { create("x", {{"foo", "bar"}}); }),
            "invalid: create x: volume name is too short, names should be at least two alphanumeric characters");
  EXPECT_EQ(refusal([&] { core_->create({"v1", "nosuchdriver", {}, {}, false}); }),
            "notFound: create v1: error looking up volume plugin nosuchdriver: plugin \"nosuchdriver\" not found");
  EXPECT_EQ(refusal([&] { create("xx", {{"foo", "bar"}}); }), "invalid: create xx: invalid option: \"foo\"");
  EXPECT_EQ(refusal([&] { create("tv", {{"type", "tmpfs"}, {"o", "bogus=1"}}); }),
            "invalid: create tv: missing required option: \"device\"");
  EXPECT_EQ(refusal([&] { create("szv", {{"size", "1m"}}); }),
            "invalid: create szv: quota size requested but no quota support");
  EXPECT_TRUE(names().empty());
  EXPECT_TRUE(events_.empty()) << "a failed create emits nothing";
  // Nothing on disk either, staged or not.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(root())) entries.push_back(e.path().filename());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{".references", ".staging", ".trash"}));
  EXPECT_TRUE(fs::is_empty(root() + "/.staging"));
}

TEST_F(VolumesCoreTest, InspectAndRemoveOfAMissingVolumeSayNoSuchVolume) {
  EXPECT_EQ(refusal([&] { core_->inspect("nosuch"); }), "notFound: get nosuch: no such volume");
  EXPECT_EQ(refusal([&] { core_->remove("nosuch", false); }), "notFound: get nosuch: no such volume");
  EXPECT_EQ(refusal([&] { core_->remove("nosuch", true); }), "ok");
}

TEST_F(VolumesCoreTest, RemoveDeletesTheDataAndEmitsDestroy) {
  auto v = create("data");
  std::ofstream(v.mountpoint + "/file") << "content";
  events_.clear();
  core_->remove("data", false);
  EXPECT_FALSE(fs::exists(root() + "/data"));
  EXPECT_TRUE(fs::is_empty(root() + "/.trash"));
  EXPECT_TRUE(names().empty());
  EXPECT_EQ(actions(), std::vector<std::string>{"destroy data"});
  EXPECT_EQ(events_[0].attrs, (VolumesCore::Attributes{{"driver", "local"}}));
}

TEST_F(VolumesCoreTest, RemoveRefusesAVolumeInUseNamingTheContainersEvenWithForce) {
  create("plainvol");
  core_->reference(kC2, {"plainvol"});
  core_->reference(kC1, {"plainvol"});
  std::string expected = "conflict: remove plainvol: volume is in use - [" + kC1 + ", " + kC2 + "]";
  EXPECT_EQ(refusal([&] { core_->remove("plainvol", false); }), expected);
  EXPECT_EQ(refusal([&] { core_->remove("plainvol", true); }), expected);
  EXPECT_EQ(core_->inspect("plainvol").users, (std::vector<std::string>{kC1, kC2}));
  core_->release(kC1);
  core_->release(kC2);
  EXPECT_EQ(refusal([&] { core_->remove("plainvol", false); }), "ok");
}

TEST_F(VolumesCoreTest, ReferenceNamesOnlyExistingVolumesAndReplacesTheEarlierOnes) {
  create("a1");
  create("b1");
  EXPECT_EQ(refusal([&] { core_->reference(kC1, {"a1", "nosuch"}); }), "notFound: get nosuch: no such volume");
  EXPECT_TRUE(core_->inspect("a1").users.empty()) << "a refused reference takes nothing";
  core_->reference(kC1, {"a1"});
  core_->reference(kC1, {"b1"});
  EXPECT_TRUE(core_->inspect("a1").users.empty());
  EXPECT_EQ(core_->inspect("b1").users, std::vector<std::string>{kC1});
  EXPECT_EQ(refusal([&] { core_->reference("not-an-id", {"a1"}); }), "invalid: invalid container id: not-an-id");
}

TEST_F(VolumesCoreTest, ListFiltersAsDockerdDoes) {
  create("alpha", {}, {{"tier", "db"}, {"x", ""}});
  create("beta", {}, {{"tier", "web"}});
  create("gamma");
  core_->reference(kC1, {"beta"});
  EXPECT_EQ(names(), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(names(R"({"dangling":["true"]})"), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(names(R"({"dangling":{"1":true}})"), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(names(R"({"dangling":["false"]})"), (std::vector<std::string>{"beta"}));
  EXPECT_EQ(names(R"({"label":["tier"]})"), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(names(R"({"label":["tier=db"]})"), (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(names(R"({"label":["tier","x"]})"), (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(names(R"({"driver":["local"]})"), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_TRUE(names(R"({"driver":["other"]})").empty());
  // A map form's false, as the reference dockerd 20.10 reads it: still a driver (moby walks the
  // values), but no dangling= (ExactMatch).
  EXPECT_EQ(names(R"({"driver":{"local":false}})"), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(refusal([&] { names(R"({"dangling":{"true":false}})"); }), "invalid: invalid filter 'dangling=[true]'");
  // name: exact, else a regular expression found anywhere in the name (moby's filters.Match).
  EXPECT_EQ(names(R"({"name":["beta"]})"), (std::vector<std::string>{"beta"}));
  EXPECT_EQ(names(R"({"name":["mm"]})"), (std::vector<std::string>{"gamma"}));
  EXPECT_EQ(names(R"({"name":["^a.*a$"]})"), (std::vector<std::string>{"alpha"}));
  // Lower case since API 1.42 (20.10: "Invalid filter 'label!'").
  EXPECT_EQ(refusal([&] { names(R"({"label!":["a"]})"); }), "invalid: invalid filter 'label!'");
  EXPECT_EQ(refusal([&] { names(R"({"dangling":["maybe"]})"); }), "invalid: invalid filter 'dangling=[maybe]'");
  EXPECT_EQ(refusal([&] { names("not json"); }), "invalid: invalid filter: not json");
}

TEST_F(VolumesCoreTest, ListMeasuresSizesOnlyWhenAsked) {
  auto v = create("data");
  std::ofstream(v.mountpoint + "/f") << std::string(1000, 'x');
  EXPECT_EQ(core_->list("", false).at(0).sizeBytes, -1);
  EXPECT_EQ(core_->list("", true).at(0).sizeBytes, 1000);
}

TEST_F(VolumesCoreTest, PruneRemovesOnlyUnusedAnonymousVolumesUnlessAll) {
  auto anon = core_->create({"", "", {}, {}, true}).first.record.name;
  std::ofstream(core_->inspect(anon).mountpoint + "/f") << std::string(500, 'x');
  auto used = core_->create({"", "", {}, {}, true}).first.record.name;
  core_->reference(kC1, {used});
  create("named");
  create("tmp", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  events_.clear();
  auto result = core_->prune("", false);
  EXPECT_EQ(result.removed, std::vector<std::string>{anon});
  EXPECT_EQ(result.reclaimedBytes, 500u);
  // moby 23+ emits destroy per pruned volume (the store's Remove); 20.10 emitted only prune.
  EXPECT_EQ(actions(), (std::vector<std::string>{"destroy " + anon, "prune "}));
  EXPECT_EQ(events_.back().attrs, (VolumesCore::Attributes{{"reclaimed", "500"}}));
  // all: named ones too, never one in use, never one with options.
  result = core_->prune("", true);
  EXPECT_EQ(result.removed, std::vector<std::string>{"named"});
  EXPECT_EQ(names().size(), 2u);
  EXPECT_EQ(core_->prune(R"({"all":["true"]})", false).removed.size(), 0u);
}

TEST_F(VolumesCoreTest, PruneFiltersByLabelsAndValidatesAll) {
  create("keep", {}, {{"keep", "yes"}});
  create("drop", {}, {{"env", "test"}});
  create("other");
  EXPECT_EQ(core_->prune(R"({"label":["env=test"]})", true).removed, std::vector<std::string>{"drop"});
  EXPECT_EQ(core_->prune(R"({"label!":["keep"],"all":["1"]})", false).removed, std::vector<std::string>{"other"});
  EXPECT_EQ(names(), std::vector<std::string>{"keep"});
  EXPECT_EQ(refusal([&] { core_->prune(R"({"all":["maybe"]})", false); }), "invalid: invalid filter 'all=[maybe]'");
  EXPECT_EQ(refusal([&] { core_->prune(R"({"dangling":["true"]})", false); }), "invalid: invalid filter 'dangling'");
}

TEST_F(VolumesCoreTest, APlainVolumeMountsWithoutTheKernelAndCountsAsUsed) {
  create("data");
  events_.clear();
  EXPECT_EQ(core_->mount(kC1, "data", "/d", true, ""), root() + "/data/_data");
  EXPECT_TRUE(kernel_.calls.empty());
  EXPECT_EQ(core_->inspect("data").users, std::vector<std::string>{kC1}) << "mounted means in use";
  core_->unmount(kC1, "data");
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].action, "mount");
  EXPECT_EQ(events_[0].attrs, (VolumesCore::Attributes{{"container", kC1},
                                                       {"destination", "/d"},
                                                       {"driver", "local"},
                                                       {"propagation", ""},
                                                       {"read/write", "true"}}));
  EXPECT_EQ(events_[1].action, "unmount");
  EXPECT_EQ(events_[1].attrs, (VolumesCore::Attributes{{"container", kC1}, {"driver", "local"}}));
  EXPECT_EQ(core_->inspect("data").users, std::vector<std::string>{kC1}) << "still referenced after its task stopped";
  EXPECT_EQ(refusal([&] { core_->mount(kC1, "nosuch", "/d", false, ""); }), "notFound: get nosuch: no such volume");
  EXPECT_EQ(refusal([&] { core_->unmount(kC1, "nosuch"); }), "ok");
}

TEST_F(VolumesCoreTest, ADeviceIsMountedByTheFirstContainerAndUnmountedByTheLast) {
  create("tmp", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
  std::string path = root() + "/tmp/_data";
  core_->mount(kC1, "tmp", "/a", true, "");
  core_->mount(kC1, "tmp", "/b", false, "");  // the same container twice: still one holder
  core_->mount(kC2, "tmp", "/c", true, "");
  EXPECT_EQ(kernel_.count("mount"), 1u);
  EXPECT_TRUE(kernel_.mounted.count(path));
  core_->unmount(kC1, "tmp");
  EXPECT_TRUE(kernel_.mounted.count(path)) << "the second container still holds it";
  core_->unmount(kC2, "tmp");
  EXPECT_FALSE(kernel_.mounted.count(path));
  EXPECT_EQ(kernel_.count("unmount"), 1u);
  // The next container mounts it again.
  core_->mount(kC2, "tmp", "/c", true, "");
  EXPECT_EQ(kernel_.count("mount"), 2u);
  core_->release(kC2);
  EXPECT_FALSE(kernel_.mounted.count(path)) << "release unmounts what the container still held";
}

TEST_F(VolumesCoreTest, AFailedDeviceMountLeavesNothingHeld) {
  create("bv", {{"type", "none"}, {"device", "/nonexistent"}, {"o", "bind"}});
  kernel_.failWith = ENOENT;
  events_.clear();
  EXPECT_EQ(refusal([&] { core_->mount(kC1, "bv", "/d", true, ""); }),
            "internal: error while mounting volume '" + root() + "/bv/_data': failed to mount local volume: mount " +
                "/nonexistent:" + root() + "/bv/_data, flags: 0x1000: no such file or directory");
  EXPECT_TRUE(core_->inspect("bv").users.empty());
  EXPECT_TRUE(events_.empty()) << "no mount event for a failed mount, as dockerd";
}

TEST_F(VolumesCoreTest, RemoveRefusesAMountedVolumeAndUnmountsAStaleDevice) {
  create("tmp", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  core_->mount(kC1, "tmp", "/d", true, "");
  EXPECT_EQ(refusal([&] { core_->remove("tmp", true); }), "conflict: remove tmp: volume is in use - [" + kC1 + "]");
  // Forget the holder without unmounting, as a lost unmount would: removal unmounts first.
  core_->reconcile({});
  EXPECT_FALSE(kernel_.mounted.count(root() + "/tmp/_data")) << "reconcile unmounts what no container holds";
  kernel_.mounted.insert(root() + "/tmp/_data");
  core_->remove("tmp", false);
  EXPECT_TRUE(kernel_.mounted.empty());
  EXPECT_FALSE(fs::exists(root() + "/tmp"));
}

TEST_F(VolumesCoreTest, MountCopiesTheImageContentIntoAnEmptyVolumeOnce) {
  std::string image = dir_.path() + "/rootfs/data";
  fs::create_directories(image);
  std::ofstream(image + "/from-image") << "image";
  auto v = create("data");
  core_->mount(kC1, "data", "/data", true, image);
  EXPECT_EQ(readFile(v.mountpoint + "/from-image"), "image");
  std::ofstream(v.mountpoint + "/from-image") << "changed";
  core_->unmount(kC1, "data");
  core_->mount(kC2, "data", "/data", true, image);
  EXPECT_EQ(readFile(v.mountpoint + "/from-image"), "changed") << "a volume with content is not copied into";
}

TEST_F(VolumesCoreTest, ReconcileReplacesBothTablesWhole) {
  create("a1");
  create("tmp", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  core_->reference(kC1, {"a1"});
  core_->mount(kC1, "tmp", "/t", true, "");
  core_->reconcile({{kC2, ContainerUse{{"a1", "gone"}, {"tmp"}}}});
  EXPECT_EQ(core_->inspect("a1").users, std::vector<std::string>{kC2});
  EXPECT_EQ(core_->inspect("tmp").users, std::vector<std::string>{kC2}) << "mounted implies referenced";
  EXPECT_TRUE(kernel_.mounted.count(root() + "/tmp/_data")) << "kC2 holds it now";
  core_->unmount(kC2, "tmp");
  EXPECT_FALSE(kernel_.mounted.count(root() + "/tmp/_data"));
  EXPECT_EQ(refusal([&] { core_->reconcile({{"bogus", {}}}); }), "invalid: invalid container id: bogus");
}

TEST_F(VolumesCoreTest, ARestartKeepsVolumesAndReferencesAndUnmountsWhatNoOneHolds) {
  create("a1");
  create("held", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  create("stale", {{"type", "tmpfs"}, {"device", "tmpfs"}});
  core_->reference(kC1, {"a1"});
  core_->mount(kC2, "held", "/h", true, "");
  kernel_.mounted.insert(root() + "/stale/_data");  // mounted, but its holder's record was lost
  reopen();
  EXPECT_EQ(names(), (std::vector<std::string>{"a1", "held", "stale"}));
  EXPECT_EQ(core_->inspect("a1").users, std::vector<std::string>{kC1});
  EXPECT_EQ(core_->inspect("held").users, std::vector<std::string>{kC2});
  EXPECT_TRUE(kernel_.mounted.count(root() + "/held/_data")) << "a running container's mount stays";
  EXPECT_FALSE(kernel_.mounted.count(root() + "/stale/_data"));
  EXPECT_EQ(refusal([&] { core_->remove("a1", false); }), "conflict: remove a1: volume is in use - [" + kC1 + "]");
}

// Crash safety: the steps of create and remove cut where a kill -9 could cut them.

TEST_F(VolumesCoreTest, AnInterruptedCreateLeavesNoVolume) {
  core_.reset();
  VolumeStore store(root());
  VolumeRecord record;
  record.name = "half";
  std::string staged = store.stageOnly(record);  // killed before the rename into place
  ASSERT_TRUE(fs::exists(staged + "/_data"));
  // A record cut short, as a kill during its write leaves.
  std::ofstream(staged + "/volume.json", std::ios::trunc) << "{\"Na";
  reopen();
  EXPECT_TRUE(names().empty());
  EXPECT_TRUE(fs::is_empty(root() + "/.staging")) << "the start clears what was staged";
  EXPECT_EQ(refusal([&] { create("half"); }), "ok") << "the name is free";
}

TEST_F(VolumesCoreTest, AnInterruptedRemoveLeavesTheVolumeGone) {
  auto v = create("doomed");
  std::ofstream(v.mountpoint + "/f") << "x";
  core_.reset();
  VolumeStore(root()).trashOnly("doomed");  // killed after the rename, before the deletion
  reopen();
  EXPECT_TRUE(names().empty());
  EXPECT_TRUE(fs::is_empty(root() + "/.trash")) << "the start deletes what was trashed";
}

TEST_F(VolumesCoreTest, ADirectoryWithoutARecordIsNotAVolume) {
  core_.reset();
  fs::create_directories(root() + "/stray/_data");
  fs::create_directories(root() + "/torn/_data");
  std::ofstream(root() + "/torn/volume.json") << "{\"Name\":";
  reopen();
  EXPECT_TRUE(names().empty());
}

TEST(ReferenceTableTest, EachContainersEntryIsDurableAndAnEmptyOneHasNoFile) {
  test::TempDir dir("berth-refs");
  std::string refs = dir.path() + "/refs";
  {
    ReferenceTable table(refs);
    table.set(kC1, {{"a", "b"}, {"a"}});
    table.set(kC2, {{"b"}, {}});
    EXPECT_EQ(table.users("b"), (std::vector<std::string>{kC1, kC2}));
    EXPECT_EQ(table.holders("a"), std::vector<std::string>{kC1});
    table.set(kC2, {});
    EXPECT_FALSE(fs::exists(refs + "/" + kC2 + ".json"));
  }
  std::ofstream(refs + "/" + kC2 + ".json.tmp-9-9") << "{";  // a torn temp file
  ReferenceTable again(refs);
  EXPECT_EQ(again.all().size(), 1u);
  EXPECT_EQ(again.of(kC1), (ContainerUse{{"a", "b"}, {"a"}}));
  EXPECT_FALSE(fs::exists(refs + "/" + kC2 + ".json.tmp-9-9"));
  auto text = nlohmann::json::parse(readFile(refs + "/" + kC1 + ".json"));
  EXPECT_EQ(text["Volumes"], nlohmann::json::array({"a", "b"}));
}

}  // namespace
}  // namespace berth::volumes
