// The container store: names as dockerd allows them, look-ups, durable records, repair.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/errors.h"
#include "services/containerd-bridge/container_store.h"
#include "tests/support/process.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

class ContainerStoreTest : public ::testing::Test {
 protected:
  std::string root() const { return dir_.path() + "/containers"; }
  ContainerRecord create(ContainerStore& store, const std::string& name) {
    auto r = store.reserve(name);
    r.image = "sha256:" + std::string(64, 'a');
    r.config = {{"Cmd", {"sh"}}};
    store.add(r);
    return r;
  }
  test::TempDir dir_{"berth-containers"};
};

TEST_F(ContainerStoreTest, ContainersAreFoundByIdNameAndUniquePrefix) {
  ContainerStore store(root());
  auto web = create(store, "web");
  EXPECT_EQ(web.id.size(), 64u);
  EXPECT_EQ(web.name, "/web");
  EXPECT_EQ(store.get("web").id, web.id);
  EXPECT_EQ(store.get("/web").id, web.id);
  EXPECT_EQ(store.get(web.id).name, "/web");
  EXPECT_EQ(store.get(web.id.substr(0, 12)).id, web.id);
  try {
    store.get("nosuch");  // not hex: it cannot be a prefix of a random id ("db" could)
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
    EXPECT_STREQ(e.what(), "No such container: nosuch");
  }
  auto generated = create(store, "");
  EXPECT_TRUE(validContainerName(generated.name)) << generated.name;
  EXPECT_EQ(store.counts().total, 2u);
  EXPECT_EQ(store.counts().stopped, 2u);
}

TEST_F(ContainerStoreTest, NamesAreUniqueAndValidatedAsDockerdDoes) {
  ContainerStore store(root());
  auto web = create(store, "web");
  try {
    store.reserve("web");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conflict);
    EXPECT_EQ(std::string(e.what()), "Conflict. The container name \"/web\" is already in use by container \"" + web.id +
                                         "\". You have to remove (or rename) that container to be able to reuse that name.");
  }
  for (const char* bad : {"-x", "a", "has space", "semi;colon", "../up"}) {
    try {
      store.reserve(bad);
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid) << bad;
    }
  }
  store.rename(web.id, "frontend");
  EXPECT_EQ(store.get("frontend").id, web.id);
  EXPECT_EQ(test::thrownKind([&] { store.get("web"); }), "notFound");
  auto other = create(store, "web");  // the old name is free again
  EXPECT_EQ(test::thrownKind([&] { store.rename(other.id, "frontend"); }), "conflict");
}

TEST_F(ContainerStoreTest, RecordsSurviveARestartAndDebrisIsRemoved) {
  std::string id;
  {
    ContainerStore store(root());
    auto r = create(store, "keeper");
    store.update(r.id, [](ContainerRecord& c) {
      c.state.status = ContainerStatus::exited;
      c.state.exitCode = 3;
    });
    id = r.id;
    auto gone = create(store, "gone");
    store.remove(gone.id);
  }
  std::filesystem::create_directories(root() + "/" + std::string(64, 'f'));  // an interrupted create
  ContainerStore store(root());
  auto r = store.get("keeper");
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.state.status, ContainerStatus::exited);
  EXPECT_EQ(r.state.exitCode, 3);
  EXPECT_EQ(r.config["Cmd"][0], "sh");
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(root() + "/" + std::string(64, 'f')));
  EXPECT_EQ(test::thrownKind([&] { store.get("gone"); }), "notFound");
}

}  // namespace
}  // namespace berth::bridge
