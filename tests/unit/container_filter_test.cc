// docker ps --filter over a container's facts, the one implementation behind the bridge's
// listing and the API's copy. Expected answers are dockerd 20.10's (daemon/list.go, and the
// reference engine for the same filters).
#include "services/containerd-bridge/public/container_filter.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace berth::bridge {
namespace {

ContainerFacts container(std::string id, std::string name, int64_t created) {
  ContainerFacts c;
  c.id = std::move(id);
  c.name = std::move(name);
  c.created = created;
  c.state = "running";
  c.running = true;
  c.started = true;
  c.health = "none";
  return c;
}

// The names a filter lists from `all`, newest first.
std::string listed(const std::vector<ContainerFacts>& all, const std::string& filters, bool showAll = true, int limit = -1) {
  ContainerFilter filter(filters);
  std::string out;
  for (const auto& c : selectContainers(all, filter, showAll, limit, [](const ContainerFacts& f) -> const ContainerFacts& { return f; })) {
    out += c.name + " ";
  }
  return out;
}

std::string refusal(const std::string& filters) {
  try {
    ContainerFilter filter(filters);
  } catch (const Error& e) {
    return std::string(e.what()) + (e.kind() == ErrorKind::invalid ? " (invalid)" : " (other)");
  }
  return "accepted";
}

TEST(ContainerFilterTest, AnIdNamesAContainerByAUniquePrefixAndANameByAPatternWithOrWithoutItsSlash) {
  std::vector<ContainerFacts> all = {container("abc1", "/web", 1), container("abd2", "/db", 2), container("f00", "/webdb", 3)};
  EXPECT_EQ(listed(all, R"({"id":["abc"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"id":["ab"]})"), "");  // two share it: dockerd's index names none
  EXPECT_EQ(listed(all, R"({"id":[""]})"), "");
  EXPECT_EQ(listed(all, R"({"id":[]})"), "/webdb /db /web ");  // a key without values filters nothing
  EXPECT_EQ(listed(all, R"({"id":["bc1"]})"), "");  // not a prefix
  EXPECT_EQ(listed(all, R"({"id":["f","abc"]})"), "/webdb /web ");
  EXPECT_EQ(listed(all, R"({"name":["^web$"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"name":["^/web$"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"name":["db"]})"), "/webdb /db ");
  EXPECT_EQ(listed(all, R"({"name":["db"],"id":["abd"]})"), "/db ");
}

TEST(ContainerFilterTest, StatusAndALimitListStoppedContainersButExitedBeforeAndSinceDoNot) {
  auto up = container("a", "/up", 1);
  auto down = container("b", "/down", 2);
  down.state = "exited";
  down.running = false;
  down.exitCode = 3;
  auto made = container("c", "/made", 3);
  made.state = "created";
  made.running = false;
  made.started = false;
  std::vector<ContainerFacts> all = {up, down, made};
  EXPECT_EQ(listed(all, "", false), "/up ");
  EXPECT_EQ(listed(all, "", false, 2), "/made /down ");
  EXPECT_EQ(listed(all, R"({"status":["exited"]})", false), "/down ");
  EXPECT_EQ(listed(all, R"({"exited":["3"]})", false), "");  // dockerd 20.10: only with all=1
  EXPECT_EQ(listed(all, R"({"exited":["3"]})", true), "/down ");
  EXPECT_EQ(listed(all, R"({"exited":["0"]})", true), "");  // never started: no exit code to match
  EXPECT_EQ(listed(all, R"({"exited":["3000000000"]})", true), "");  // Go's Atoi takes 64 bits
  auto since = [&](bool showAll) {
    ContainerFilter filter(R"({"since":["up"]})");
    EXPECT_FALSE(filter.listsStopped());
    EXPECT_EQ(*filter.sinceRef(), "up");
    filter.setBounds(std::nullopt, 1);
    std::string out;
    for (const auto& c :
         selectContainers(all, filter, showAll, -1, [](const ContainerFacts& f) -> const ContainerFacts& { return f; })) {
      out += c.name + " ";
    }
    return out;
  };
  EXPECT_EQ(since(false), "");
  EXPECT_EQ(since(true), "/made /down ");
}

TEST(ContainerFilterTest, LabelsNetworksVolumesAndPortsMatchAsInDockerd) {
  auto c = container("a", "/web", 1);
  c.labels = {{"tier", "front"}, {"team", ""}};
  c.networks = {{"n1", "0123456789"}, {"bridge", ""}};
  c.volumes = {"/data", "vol1", "/etc/x", "/host/x"};
  c.published = {"8081/tcp", "0/tcp"};
  c.exposed = {"80/tcp", "9000/tcp", "53/udp"};
  std::vector<ContainerFacts> all = {c};
  EXPECT_EQ(listed(all, R"({"label":["tier=front","team"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"label":["tier=back"]})"), "");
  EXPECT_EQ(listed(all, R"({"network":["n1"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"network":["01234"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"network":["1234"]})"), "");
  EXPECT_EQ(listed(all, R"({"network":["other","bridge"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"volume":["vol1"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"volume":["/data"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"volume":["/dat"]})"), "");
  EXPECT_EQ(listed(all, R"({"publish":["8081"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"publish":["8081/udp"]})"), "");
  EXPECT_EQ(listed(all, R"({"publish":["8000-8090"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"publish":["80"]})"), "");
  EXPECT_EQ(listed(all, R"({"publish":["000080"]})"), "");
  EXPECT_EQ(listed(all, R"({"publish":["0"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"publish":["8081/tcp/x"]})"), "/web ");  // nat reads the first two parts
  EXPECT_EQ(listed(all, R"({"publish":["8080-8082-1"]})"), "/web ");
  // Either filter lists it, as dockerd 20.10 answers.
  EXPECT_EQ(listed(all, R"({"publish":["8081"],"expose":["12345"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"publish":["1234"],"expose":["9000"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"publish":["1234"],"expose":["12345"]})"), "");
  EXPECT_EQ(listed(all, R"({"expose":["53/udp"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"expose":["53"]})"), "");
  EXPECT_EQ(listed(all, R"({"expose":["1-100","9999"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"is-task":["false"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"is-task":["true"]})"), "");
  EXPECT_EQ(listed(all, R"({"is-task":[]})"), "");  // moby's ExactMatch: no value is "true"
  EXPECT_EQ(listed(all, R"({"is-task":["x","false"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"health":["none"]})"), "/web ");
  EXPECT_EQ(listed(all, R"({"isolation":["default"]})"), "/web ");
  ContainerFilter ancestor(R"({"ancestor":["busybox"]})");
  ancestor.setAncestorIds({"sha256:x"});
  c.imageId = "sha256:x";
  EXPECT_TRUE(ancestor.matches(c));
  c.imageId = "sha256:y";
  EXPECT_FALSE(ancestor.matches(c));
  c.imageRef = "busybox";
  EXPECT_TRUE(ancestor.matches(c));
}

// What dockerd 20.10 answered for these (the reference engine, two containers, one labelled).
TEST(ContainerFilterTest, AKeyWhoseValueIsNullIsReadAsDockerdReadsIt) {
  auto labelled = container("abc1", "/nf1", 1);
  labelled.labels = {{"a", "1"}};
  labelled.volumes = {"vol1"};
  labelled.networks = {{"n1", "0123"}};
  std::vector<ContainerFacts> all = {labelled, container("abd2", "/nf2", 2)};
  EXPECT_EQ(listed(all, "null"), "/nf2 /nf1 ");
  for (const char* key : {"label", "name", "status", "id", "before", "health", "exited", "publish", "expose", "since",
                          "isolation"}) {
    EXPECT_EQ(listed(all, std::string(R"({")") + key + R"(":null})"), "/nf2 /nf1 ") << key;
  }
  for (const char* key : {"volume", "network", "ancestor", "is-task"}) {
    EXPECT_EQ(listed(all, std::string(R"({")") + key + R"(":null})"), "") << key;
  }
  EXPECT_EQ(listed(all, R"({"label":[null]})"), "");
  EXPECT_EQ(listed(all, R"({"label":{"a":null}})"), "/nf1 ");
  EXPECT_EQ(listed(all, R"({"name":[null]})"), "/nf2 /nf1 ");
  EXPECT_EQ(listed(all, R"({"id":[null]})"), "");
  EXPECT_EQ(refusal(R"({"status":[null]})"), "invalid filter 'status=' (invalid)");
  EXPECT_EQ(refusal(R"({"health":[null]})"), "Unrecognised filter value for health:  (invalid)");
}

// A map form's false, as the reference dockerd 20.10 lists a running container labelled a=1 named
// ft: status (Match), label and name still list it; health (ExactMatch) does not.
TEST(ContainerFilterTest, AMapFormsFalseListsAsDockerdLists) {
  auto c = container("abc1", "/ft", 1);
  c.labels = {{"a", "1"}};
  std::vector<ContainerFacts> all = {c};
  EXPECT_EQ(listed(all, R"({"status":{"running":false}})"), "/ft ");
  EXPECT_EQ(listed(all, R"({"label":{"a":false}})"), "/ft ");
  EXPECT_EQ(listed(all, R"({"name":{"ft":false}})"), "/ft ");
  EXPECT_EQ(listed(all, R"({"health":{"none":false}})"), "");
  EXPECT_EQ(listed(all, R"({"health":{"none":true}})"), "/ft ");
}

TEST(ContainerFilterTest, ValuesDockerdRefusesAreRefusedInItsWords) {
  EXPECT_EQ(refusal(R"({"colour":["red"]})"), "invalid filter 'colour' (invalid)");
  // label! is a prune's (DockerFilters::matchLabels); dockerd's list refuses it.
  EXPECT_EQ(refusal(R"({"label!":["tier"]})"), "invalid filter 'label!' (invalid)");
  EXPECT_EQ(refusal(R"({"status":["up"]})"), "invalid filter 'status=up' (invalid)");
  EXPECT_EQ(refusal(R"({"is-task":["yes"]})"), "invalid filter 'is-task=[yes]' (invalid)");
  EXPECT_EQ(refusal(R"({"is-task":["x","y"]})"), "invalid filter 'is-task=[x y]' (invalid)");
  EXPECT_EQ(refusal(R"({"health":["sick"]})"), "Unrecognised filter value for health: sick (invalid)");
  EXPECT_EQ(refusal(R"({"exited":["x"]})"), "strconv.Atoi: parsing \"x\": invalid syntax (invalid)");
  EXPECT_EQ(refusal(R"({"exited":["99999999999999999999"]})"),
            "strconv.Atoi: parsing \"99999999999999999999\": value out of range (invalid)");
  EXPECT_EQ(refusal(R"({"publish":["-5"]})"),
            "error while looking up for publish -5: strconv.ParseUint: parsing \"\": invalid syntax (invalid)");
  EXPECT_EQ(refusal(R"({"publish":["80:80"]})"), "filter for 'publish' should not contain ':': 80:80 (invalid)");
  EXPECT_EQ(refusal(R"({"expose":["70000"]})"),
            "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range (invalid)");
  EXPECT_EQ(refusal(R"({"publish":["90-80"]})"),
            "error while looking up for publish 90-80: Invalid range specified for the Port: 90-80 (invalid)");
  EXPECT_EQ(refusal(R"({"publish":["/tcp"]})"), "error while looking up for publish /tcp: Empty string specified for ports. (invalid)");
  EXPECT_EQ(refusal(R"({"status":["exited"],"exited":["-1"],"publish":["1-65535/udp"]})"), "accepted");
  EXPECT_EQ(refusal("[1]"), "invalid filter: [1] (invalid)");
}

}  // namespace
}  // namespace berth::bridge
