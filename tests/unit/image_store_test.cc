// The image store: load, look-ups, tags, removal, save round trips, and crash repair.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <cstring>

#include "common/errors.h"
#include "services/images/image_store.h"
#include "common/image_reference.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"
#include "tests/unit/overlay_mount.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TarBuilder base;
    base.dir("bin").file("bin/busybox", std::string(5000, 'b'), 0755).symlink("bin/sh", "busybox");
    base.write(dir_.path() + "/base.tar");
    test::TarBuilder app;
    app.file("app/run.sh", "echo hello\n", 0755).file(".wh.tmp", "");
    app.write(dir_.path() + "/app.tar", true);
  }

  std::string archive(const std::vector<std::string>& tags, const std::vector<std::string>& overrides = {},
                      const std::string& name = "image.tar", const std::string& cmd = "sh") {
    std::string path = dir_.path() + "/" + name;
    id_ = test::makeDockerArchive(path, {dir_.path() + "/base.tar", dir_.path() + "/app.tar"}, tags, dir_.path(),
                                  overrides, cmd);
    return path;
  }

  std::unique_ptr<ImageStore> open() {
    return std::make_unique<ImageStore>(dir_.path() + "/store", [this](const std::string& action, const std::string& id,
                                                                       const auto& attrs) {
      events_.push_back(action + " " + id + (attrs.empty() ? "" : " " + attrs[0].second));
    });
  }

  test::TempDir dir_{"berth-store"};
  std::string id_;
  std::vector<std::string> events_;
};

TEST_F(ImageStoreTest, ALoadedImageIsListedWithItsTagAndFoundByNameIdAndPrefix) {
  auto store = open();
  auto lines = store->load(archive({"registry.local/app:v1"})).lines;
  ASSERT_EQ(lines, std::vector<std::string>{"Loaded image: registry.local/app:v1"});
  auto all = store->list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, id_);
  EXPECT_EQ(all[0].repoTags, std::vector<std::string>{"registry.local/app:v1"});
  EXPECT_EQ(all[0].size, 5000 + 11);
  ASSERT_EQ(all[0].layerDirs.size(), 2u);
  EXPECT_EQ(test::readText(all[0].layerDirs[1] + "/app/run.sh"), "echo hello\n");
  EXPECT_EQ(store->get("registry.local/app:v1").id, id_);
  EXPECT_EQ(store->get(id_).id, id_);
  EXPECT_EQ(store->get(id_.substr(7, 12)).id, id_);
  EXPECT_EQ(store->get("sha256:" + id_.substr(7, 5)).id, id_);
  EXPECT_EQ(store->counts().images, 1u);
  EXPECT_EQ(store->counts().layers, 2u);
  // dockerd 20.10 (observed): one load event named by the image ID, no tag event for the tags
  // a load sets.
  EXPECT_EQ(events_, (std::vector<std::string>{"load " + id_ + " " + id_}));
  try {
    store->get("registry.local/app:v2");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
    EXPECT_STREQ(e.what(), "No such image: registry.local/app:v2");
  }
}

TEST_F(ImageStoreTest, SaveThenLoadElsewhereKeepsTheImageIdAndTheLayerBytes) {
  auto store = open();
  store->load(archive({"app:1"}));
  store->tag("app:1", "app:2");
  store->save({"app:1", "app:2"}, dir_.path() + "/saved.tar");
  ImageStore other(dir_.path() + "/other");
  auto lines = other.load(dir_.path() + "/saved.tar").lines;
  EXPECT_EQ(lines, (std::vector<std::string>{"Loaded image: app:1", "Loaded image: app:2"}));
  auto view = other.get("app:2");
  EXPECT_EQ(view.id, id_);
  EXPECT_EQ(view.diffIds[0], test::sha256File(dir_.path() + "/base.tar"));
}

TEST_F(ImageStoreTest, RemovingOneOfTwoTagsOnlyUntags) {
  auto store = open();
  store->load(archive({"app:1"}));
  store->tag(id_, "app:2");
  auto out = store->remove("app:1", false, true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].untagged, "app:1");
  EXPECT_EQ(store->list().size(), 1u);
  try {
    store->tag(id_, "app:3");
    store->remove(id_.substr(7, 12), false, true);
    FAIL() << "removed an image referenced by two tags without force";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conflict);
    EXPECT_NE(std::string(e.what()).find("must be forced"), std::string::npos) << e.what();
  }
  out = store->remove(id_, true, true);
  EXPECT_EQ(out.size(), 2u + 1u + 2u);  // two untags, the image, two layers
  EXPECT_TRUE(store->list().empty());
  EXPECT_EQ(store->counts().layers, 0u);
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/layers"));
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/blobs/sha256"));
}

TEST_F(ImageStoreTest, ImagesShareLayersAndRemovalKeepsTheSharedOnes) {
  auto store = open();
  store->load(archive({"one:latest"}, {}, "one.tar", "one"));
  std::string first = id_;
  store->load(archive({"two:latest"}, {}, "two.tar", "two"));
  EXPECT_NE(first, id_);
  EXPECT_EQ(store->counts().layers, 2u);
  store->remove("one", false, true);
  EXPECT_EQ(store->counts().layers, 2u);
  EXPECT_EQ(test::readText(store->get("two").layerDirs[1] + "/app/run.sh"), "echo hello\n");
}

TEST_F(ImageStoreTest, ADiffIdMismatchFailsTheLoadAndLeavesNothingVisible) {
  auto store = open();
  std::string wrong = "sha256:" + std::string(64, 'a');
  try {
    store->load(archive({"bad:1"}, {test::sha256File(dir_.path() + "/base.tar"), wrong}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_NE(std::string(e.what()).find("layer 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("but the config expects " + wrong), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store->list().empty());
  EXPECT_THROW(store->get("bad:1"), Error);
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/staging"));
  // The base layer verified and was kept; a reopened store drops it as unused.
  store.reset();
  store = open();
  EXPECT_EQ(store->counts().layers, 0u);
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/layers"));
}

TEST_F(ImageStoreTest, BadArchivesAreRefusedNamingWhatFailed) {
  auto store = open();
  auto msgOf = [&](const std::string& path) {
    try {
      store->load(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  test::TarBuilder().file("manifest.json", R"([{"Config":"missing.json","RepoTags":["x:1"],"Layers":[]}])")
      .write(dir_.path() + "/noconfig.tar");
  EXPECT_NE(msgOf(dir_.path() + "/noconfig.tar").find("config missing.json is missing"), std::string::npos);
  test::TarBuilder().file("hello", "world").write(dir_.path() + "/nomanifest.tar");
  EXPECT_NE(msgOf(dir_.path() + "/nomanifest.tar").find("neither manifest.json nor index.json"), std::string::npos);
  std::string good = archive({"x:1"});
  std::string bytes = test::readText(good);
  { std::ofstream(dir_.path() + "/truncated.tar", std::ios::binary) << bytes.substr(0, bytes.size() / 2); }
  EXPECT_NE(msgOf(dir_.path() + "/truncated.tar"), "");
  test::TarBuilder().file("manifest.json", "[{\"Config\": ").write(dir_.path() + "/badjson.tar");
  EXPECT_NE(msgOf(dir_.path() + "/badjson.tar").find("not valid JSON"), std::string::npos);
  EXPECT_TRUE(store->list().empty());
}

TEST_F(ImageStoreTest, ReopeningRepairsInterruptedWork) {
  {
    auto store = open();
    store->load(archive({"app:1"}));
  }
  // Debris of an interrupted load: staging files and a layer directory without its record.
  fs::create_directories(dir_.path() + "/store/staging/load-1/layer-0/diff");
  fs::create_directories(dir_.path() + "/store/layers/" + std::string(64, 'c') + "/diff");
  auto store = open();
  EXPECT_EQ(store->list().size(), 1u);
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/staging"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/store/layers/" + std::string(64, 'c')));
  EXPECT_EQ(store->get("app:1").id, id_);
}

TEST_F(ImageStoreTest, AConfigWithoutRootfsIsRefusedAndAStoredOneIsDroppedAtStart) {
  auto store = open();
  std::string path = dir_.path() + "/norootfs.tar";
  test::TarBuilder().file("c.json", "{}").file("manifest.json", R"([{"Config":"c.json","RepoTags":["x:1"],"Layers":[]}])")
      .write(path);
  EXPECT_THROW(store->load(path), Error);
  // One that got onto disk anyway (say, by an older version) does not stop the store opening.
  std::string text = "[1,2,3]";
  std::ofstream(dir_.path() + "/store/imagedb/content/sha256/" + sha256Hex(text)) << text;
  store.reset();
  store = open();
  EXPECT_TRUE(store->list().empty());
}

TEST_F(ImageStoreTest, AContainerLayerMountsOverTheImageAndYieldsChangesExportAndCommit) {
  auto store = open();
  store->load(archive({"app:1"}));
  std::string container(64, 'c');
  std::string imageId;
  auto mounts = store->prepareContainerLayer(container, "app:1", imageId);
  EXPECT_EQ(imageId, id_);
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].type, "overlay");
  // Mount it as containerd would, and change things the way a process in the container does.
  std::string merged = dir_.path() + "/merged";
  test::OverlayMount overlay(mounts[0], merged);
  ASSERT_TRUE(overlay.mounted()) << overlay.error();
  EXPECT_EQ(test::readText(merged + "/app/run.sh"), "echo hello\n");
  std::ofstream(merged + "/app/new.txt") << "added";
  fs::remove(merged + "/app/run.sh");
  fs::create_directories(merged + "/data");
  ASSERT_TRUE(overlay.unmount()) << strerror(errno);

  auto changes = store->containerChanges(container);
  std::vector<std::string> seen;
  for (const auto& c : changes) seen.push_back(std::to_string(c.kind) + " " + c.path);
  EXPECT_EQ(seen, (std::vector<std::string>{"0 /app", "1 /app/new.txt", "2 /app/run.sh", "1 /data"}));

  // Export: the merged view, built without mounting.
  std::string exported = dir_.path() + "/export.tar";
  store->exportContainer(container, exported);
  auto listing = test::run({"tar", "-tf", exported}).out;
  EXPECT_NE(listing.find("app/new.txt"), std::string::npos) << listing;
  EXPECT_NE(listing.find("bin/busybox"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("run.sh"), std::string::npos) << listing;

  // The image cannot go while the container uses it.
  try {
    store->remove("app:1", false, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conflict);
    EXPECT_NE(std::string(e.what()).find("is using its referenced image"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store->get("app:1").id, id_);

  // Commit: a third layer whose whiteout hides run.sh.
  std::string committed = store->commitContainer(container, {{"Cmd", {"/app/new.txt"}}}, "app:committed", "snapshot", "tester");
  auto view = store->get("app:committed");
  EXPECT_EQ(view.id, committed);
  ASSERT_EQ(view.layerDirs.size(), 3u);
  EXPECT_EQ(test::readText(view.layerDirs[2] + "/app/new.txt"), "added");
  struct stat st {};
  ASSERT_EQ(lstat((view.layerDirs[2] + "/app/run.sh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  auto config = nlohmann::json::parse(view.configJson);
  EXPECT_EQ(config["config"]["Cmd"][0], "/app/new.txt");
  EXPECT_EQ(config["comment"], "snapshot");
  EXPECT_EQ(config["author"], "tester");

  store->releaseContainerLayer(container);
  EXPECT_FALSE(fs::exists(dir_.path() + "/store/rw/" + container));
  EXPECT_EQ(store->remove("app:1", false, true).back().deleted.empty(), false);
}

TEST_F(ImageStoreTest, ContainerSizesAreMeasuredInOneCallAndLeaveOutContainersWithoutALayer) {
  auto store = open();
  store->load(archive({"app:1"}));
  std::string a(64, 'a'), b(64, 'b'), none(64, 'c');
  std::string imageId;
  store->prepareContainerLayer(a, "app:1", imageId);
  store->prepareContainerLayer(b, "app:1", imageId);
  // What a process in container a wrote (its upper directory is its writable layer).
  std::ofstream(dir_.path() + "/store/rw/" + a + "/upper/data") << std::string(1234, 'x');

  auto sizes = store->containerSizes({a, b, none});
  ASSERT_EQ(sizes.size(), 2u) << "a container without a layer has no size";
  EXPECT_EQ(sizes.at(a).rw, 1234);
  EXPECT_EQ(sizes.at(a).rootFs, 1234 + 5000 + 11);
  EXPECT_EQ(sizes.at(b).rw, 0);
  EXPECT_EQ(sizes.at(b).rootFs, 5000 + 11);
  EXPECT_EQ(store->containerSize(a).rw, sizes.at(a).rw) << "the same figures as one container's call";
  try {
    store->containerSize(none);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
  }
  try {
    store->containerSizes({a, "../../etc"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_STREQ(e.what(), "invalid container id: ../../etc");
  }
}

TEST_F(ImageStoreTest, ACommitAppliesTheClientsDockerfileChangesAndRefusesBadOnesBeforeWritingAnything) {
  auto store = open();
  store->load(archive({"app:1"}));
  std::string container(64, 'd');
  std::string imageId;
  store->prepareContainerLayer(container, "app:1", imageId);
  std::ofstream(dir_.path() + "/store/rw/" + container + "/upper/made") << "here";
  auto images = store->list().size();
  auto layers = store->counts().layers;

  try {
    store->commitContainer(container, {{"Cmd", {"sh"}}}, "app:refused", "", "", {"RUN rm -rf /"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_STREQ(e.what(), "RUN is not a valid change command");
  }
  EXPECT_EQ(store->list().size(), images);
  EXPECT_EQ(store->counts().layers, layers);

  std::string id = store->commitContainer(container, {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}, "app:changed", "", "",
                                          {"ENV GREETING=hi", "WORKDIR /srv"});
  auto config = nlohmann::json::parse(store->get("app:changed").configJson)["config"];
  EXPECT_EQ(store->get("app:changed").id, id);
  EXPECT_EQ(config["Env"], nlohmann::json({"PATH=/bin", "GREETING=hi"}));
  EXPECT_EQ(config["WorkingDir"], "/srv");
  EXPECT_EQ(config["Cmd"], nlohmann::json({"sh"}));
}

TEST(ReferenceTest, ALongNameWithABadCharacterFailsQuickly) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(parseReference(std::string(60, 'a') + "!"), Error);
  EXPECT_THROW(parseReference("a" + std::string(200, '-') + "!"), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ReferenceTest, ReferencesNormaliseAsDockerShowsThem) {
  EXPECT_EQ(parseReference("busybox").familiar(), "busybox:latest");
  EXPECT_EQ(parseReference("docker.io/library/busybox:1.36").familiar(), "busybox:1.36");
  EXPECT_EQ(parseReference("localhost:5000/team/app").familiar(), "localhost:5000/team/app:latest");
  EXPECT_EQ(parseReference("127.0.0.1:5000/app:v1").domain(), "127.0.0.1:5000");
  EXPECT_EQ(parseReference("busybox").path(), "library/busybox");
  std::string digest = "sha256:" + std::string(64, 'f');
  EXPECT_EQ(parseReference("app@" + digest).familiar(), "app@" + digest);
  EXPECT_THROW(parseReference("team/UPPER"), Error);
  EXPECT_THROW(parseReference("app:bad tag"), Error);
  EXPECT_THROW(parseReference("app@sha256:short"), Error);
  EXPECT_THROW(parseReference(""), Error);
}

}  // namespace
}  // namespace berth::images
