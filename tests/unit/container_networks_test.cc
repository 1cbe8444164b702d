// A container's network through the containers core and the fake network service: the spec of
// every start that is not on the host's network joins the namespace the service made, the
// settings it returned are recorded and written into the container's hosts file, create
// refuses a network that does not exist, the removal lets the namespace go, and a removal the
// service missed is made good by the reconcile that follows it (and by the one every restore
// sends).
#include <gtest/gtest.h>

#include "common/files.h"
#include "tests/unit/core_fixture.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

class ContainerNetworksTest : public CoreFixture {
 protected:
  // The network namespace entry of the spec the container's last start gave containerd.
  json networkNamespaceOf(const std::string& id) {
    auto text = readFileIfExists(store_->directoryOf(id) + "/spec.json");
    EXPECT_TRUE(text.has_value());
    if (!text) return nullptr;
    auto spec = json::parse(*text);
    for (const auto& ns : spec["linux"]["namespaces"]) {
      if (ns.value("type", "") == "network") return ns;
    }
    return nullptr;
  }
};

TEST_F(ContainerNetworksTest, AStartJoinsTheNamespaceTheServiceMadeAndTheHostsNetworkNeedsNone) {
  std::string isolated = run({{"NetworkMode", "none"}});
  EXPECT_EQ(networkNamespaceOf(isolated), json({{"type", "network"}, {"path", "/netns/" + isolated}}));
  std::string onHost = run({{"NetworkMode", "host"}});
  EXPECT_TRUE(networkNamespaceOf(onHost).is_null());
  std::string byDefault = run();  // the default bridge network
  EXPECT_EQ(networkNamespaceOf(byDefault), json({{"type", "network"}, {"path", "/netns/" + byDefault}}));
  EXPECT_EQ(network_.namespaces(), (std::set<std::string>{isolated, byDefault}));
  // A second start joins the same namespace.
  fake_.exitTask(isolated, 0);
  ASSERT_TRUE(waitForStatus(isolated, ContainerStatus::exited));
  ASSERT_TRUE(core_->start(isolated, soon()));
  EXPECT_EQ(networkNamespaceOf(isolated)["path"], "/netns/" + isolated);
  EXPECT_EQ(network_.namespaces(), (std::set<std::string>{isolated, byDefault}));
}

TEST_F(ContainerNetworksTest, TheAddressTheServiceGaveIsRecordedAndNamesTheContainerInItsHostsFile) {
  std::string id = run({{"NetworkMode", "bridge"}, {"PortBindings", {{"80/tcp", {{{"HostPort", "8080"}}}}}}});
  auto record = store_->get(id);
  ASSERT_TRUE(record.networkSettings.is_object());
  std::string address = record.networkSettings["Networks"]["bridge"]["IPAddress"];
  EXPECT_EQ(address.rfind("10.0.0.", 0), 0u) << address;
  EXPECT_EQ(record.networkSettings["SandboxKey"], "/netns/" + id);
  // The request carried the port bindings and the container's name.
  auto request = network_.requestOf(id);
  EXPECT_EQ(request["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_EQ(request["Name"], record.name);
  auto hosts = readFileIfExists(store_->directoryOf(id) + "/hosts");
  ASSERT_TRUE(hosts.has_value());
  EXPECT_NE(hosts->find(address + "\t" + id.substr(0, 12) + "\n"), std::string::npos) << *hosts;
}

TEST_F(ContainerNetworksTest, CreateRefusesANetworkThatDoesNotExistAndAcceptsOneThatDoes) {
  EXPECT_EQ(refusal([&] { create({{"NetworkMode", "nosuch"}}); }), "network nosuch not found");
  network_.addNetwork("mine");
  std::string id = run({{"NetworkMode", "mine"}});
  EXPECT_EQ(store_->get(id).networkSettings["Networks"]["mine"]["Gateway"], "10.0.0.1");
}

TEST_F(ContainerNetworksTest, AStartFailsUnavailableWhileTheServiceIsDownAndLeavesNothingMounted) {
  std::string id = create({{"NetworkMode", "none"}});
  network_.down(true);
  EXPECT_EQ(refusal([&] { core_->start(id, deadlineIn(std::chrono::milliseconds(200))); }),
            "the network service is restarting");
  EXPECT_EQ(status(id), ContainerStatus::created);
  EXPECT_FALSE(host_.mounted(dir_.path() + "/run/" + id + "/rootfs"));
  network_.down(false);
  EXPECT_TRUE(core_->start(id, soon()));
}

TEST_F(ContainerNetworksTest, ARemovalTheServiceMissedIsMadeGoodByTheReconcileThatFollows) {
  std::string kept = run({{"NetworkMode", "none"}});
  std::string removed = run({{"NetworkMode", "none"}});
  network_.down(true);
  core_->remove(removed, true, false, soon());  // the removal itself does not fail
  EXPECT_EQ(test::thrownKind([&] { store_->get(removed); }), "notFound");
  ASSERT_TRUE(waitUntil([&] { return !scheduler_.delays().empty(); }));  // a retry is due
  network_.down(false);
  int before = network_.reconciles();
  scheduler_.fireTimers();
  EXPECT_EQ(network_.reconciles(), before + 1);
  EXPECT_EQ(network_.namespaces(), (std::set<std::string>{kept}));
}

TEST_F(ContainerNetworksTest, ARestoredBridgeSendsItsContainersSoNoNamespaceOutlivesOne) {
  std::string kept = run({{"NetworkMode", "none"}});
  // A namespace for a container the bridge does not have (removed while the service was away).
  network_.attach(std::string(64, 'f'), json::object(), soon());
  int before = network_.reconciles();
  restartBridge();
  ASSERT_TRUE(waitUntil([&] { return network_.reconciles() > before; }));
  EXPECT_EQ(network_.namespaces(), (std::set<std::string>{kept}));
}

}  // namespace
}  // namespace berth::bridge
