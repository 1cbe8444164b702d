// The API's read model of containers (docs/ipc.md, "Container views"): GET /containers/{id}/json
// and GET /containers/json, filtered or not, answered from the API's copy of the bridge's views.
// What must hold: the copy answers (it keeps answering with the bridge frozen, which shows that
// no RPC was made), it answers exactly what the bridge would, and no read shows a state older
// than a write or an event the client already saw.
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

// The bridge's RPC answers for the same documents: a listing or inspect with sizes is never
// answered from the copy (the sizes are the images service's).
const std::string kViaBridge = "size=1";

// A filters parameter of one key and its values, percent-encoded for a query.
std::string filterQuery(const std::string& key, const std::vector<std::string>& values) {
  std::string out = "filters=";
  for (unsigned char c : json({{key, values}}).dump()) {
    static const char* hex = "0123456789ABCDEF";
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

class ReadModelTest : public ContainersTest {
 protected:
  HttpResult get(const std::string& target) { return httpRequest(engine_.socketPath(), "GET", target); }
  json inspectDoc(const std::string& ref) {
    auto r = get("/v1.41/containers/" + ref + "/json");
    EXPECT_EQ(r.status, 200) << ref << ": " << r.body.substr(0, 300);
    return bodyOf(r);
  }
  json listDoc(const std::string& query) {
    auto r = get("/v1.41/containers/json?" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body.substr(0, 300);
    return bodyOf(r);
  }
};

TEST_F(ReadModelTest, InspectAndListAnswerWithTheBridgeFrozenSoNoRpcIsMade) {
  std::string id = runDetached({"--name", "frozen-read", "--label", "tier=cold", kImage, "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  {
    auto frozen = freezeOnceAnsweredWithout(engine_.childPid("containerd-bridge"), "/v1.41/containers/json");
    ASSERT_TRUE(frozen) << "the copy never answered with the bridge frozen";
    // A read the copy does not answer waits for the frozen bridge: the proof that it is frozen.
    auto viaBridge = rawRequest(engine_.socketPath(),
                                "GET /v1.41/containers/json?" + kViaBridge + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                1000);
    EXPECT_TRUE(viaBridge.timedOut) << viaBridge.status << " " << viaBridge.body.substr(0, 200);
    auto byName = inspectDoc("frozen-read");
    EXPECT_EQ(byName["Id"], id);
    EXPECT_EQ(byName["Name"], "/frozen-read");
    EXPECT_EQ(byName["State"]["Status"], "running");
    EXPECT_EQ(inspectDoc(id.substr(0, 7))["Id"], id);
    auto listed = listDoc("");
    ASSERT_TRUE(listed.is_array()) << listed;
    ASSERT_EQ(listed.size(), 1u) << listed;
    EXPECT_EQ(listed[0]["Id"], id);
    EXPECT_TRUE(startsWith(listed[0]["Status"].get<std::string>(), "Up ")) << listed[0]["Status"];
    // Filtered too, as Docker Compose lists a project's containers by label.
    auto cold = listDoc(filterQuery("label", {"tier=cold"}));
    ASSERT_EQ(cold.size(), 1u) << cold;
    EXPECT_EQ(cold[0]["Id"], id);
    EXPECT_EQ(listDoc(filterQuery("label", {"tier=warm"})), json::array());
  }
  // Thawed, the bridge answers what the copy declines: not found, from the bridge's words.
  auto missing = get("/v1.41/containers/no-such-one/json");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(bodyOf(missing)["message"], "No such container: no-such-one");
}

// `docker system df` counts each image's containers, running or not (dockerd counts its whole
// container store). Those counts come from the copy: the images alone (API 1.42's type=image)
// answer with the bridge frozen, and every answer counts what a write just acknowledged.
TEST_F(ReadModelTest, SystemDfCountsEachImagesContainersFromTheCopy) {
  std::string running = runDetached({"--name", "df-running", kImage, "sleep", "1000"});
  ASSERT_FALSE(running.empty());
  auto created = engine_.docker({"create", "--pull", "never", "--name", "df-created", kImage, "true"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  std::string imageId = trimNewline(engine_.docker({"image", "inspect", "-f", "{{.Id}}", kImage}).out);
  ASSERT_EQ(imageId.size(), 71u) << imageId;
  auto imageUsage = [&](const std::string& target) {
    auto r = get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body.substr(0, 300);
    auto doc = bodyOf(r);
    EXPECT_TRUE(doc["Images"].is_array() && doc["Images"].size() == 1) << r.body.substr(0, 300);
    return doc;
  };
  {
    auto frozen = freezeOnceAnsweredWithout(engine_.childPid("containerd-bridge"), "/v1.41/containers/json");
    ASSERT_TRUE(frozen) << "the copy never answered with the bridge frozen";
    auto viaBridge = rawRequest(
        engine_.socketPath(),
        "GET /v1.41/containers/json?" + kViaBridge + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    EXPECT_TRUE(viaBridge.timedOut) << viaBridge.status << " " << viaBridge.body.substr(0, 200);
    auto images = imageUsage("/v1.43/system/df?type=image");
    EXPECT_EQ(images["Images"][0]["Id"], imageId);
    EXPECT_EQ(images["Images"][0]["Containers"], 2) << images;
    EXPECT_TRUE(images["Containers"].is_null()) << images;
  }
  // Thawed: the whole answer, the bridge's sized list in it, and the counts agree with it.
  for (const std::string& version : {std::string("v1.41"), std::string("v1.43")}) {
    auto all = imageUsage("/" + version + "/system/df");
    ASSERT_TRUE(all["Containers"].is_array()) << all;
    std::set<std::string> ids;
    for (const auto& c : all["Containers"]) {
      ids.insert(c["Id"].get<std::string>());
      EXPECT_EQ(c["ImageID"], imageId) << c;
      EXPECT_TRUE(c["SizeRw"].is_number_integer()) << c;
    }
    EXPECT_EQ(ids, (std::set<std::string>{running, trimNewline(created.out)})) << all["Containers"];
    EXPECT_EQ(all["Images"][0]["Containers"], 2) << all["Images"];
    EXPECT_TRUE(all["Volumes"].is_array()) << all;
    EXPECT_EQ(all.contains("BuilderSize"), version == "v1.41") << all;
  }
  // Each removal acknowledged, then at once the counts: the copy is never older.
  ASSERT_EQ(engine_.docker({"rm", "df-created"}).exitCode, 0);
  EXPECT_EQ(imageUsage("/v1.43/system/df?type=image")["Images"][0]["Containers"], 1);
  ASSERT_EQ(engine_.docker({"rm", "-f", "df-running"}).exitCode, 0);
  EXPECT_EQ(imageUsage("/v1.43/system/df?type=image")["Images"][0]["Containers"], 0);
}

TEST_F(ReadModelTest, TheCopyAnswersWhatTheBridgeAnswers) {
  std::string running = runDetached({"--name", "rm-running", "--label", "a=b", kImage, "sleep", "1000"});
  std::string paused = runDetached({"--name", "rm-paused", kImage, "sleep", "1000"});
  std::string exited = runDetached({"--name", "rm-exited", kImage, "sh", "-c", "exit 3"});
  ASSERT_FALSE(running.empty() || paused.empty() || exited.empty());
  ASSERT_EQ(engine_.docker({"create", "--pull", "never", "--name", "rm-created", kImage, "true"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"pause", "rm-paused"}).exitCode, 0);
  ASSERT_EQ(engine_.output({"wait", "rm-exited"}), "3\n");
  ASSERT_EQ(engine_.docker({"rename", "rm-running", "rm-renamed"}).exitCode, 0);
  auto exec = httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/rm-renamed/exec", R"({"Cmd":["true"]})",
                          "Content-Type: application/json\r\n");
  ASSERT_EQ(exec.status, 201) << exec.body;

  // Lists: all, running only, and a limit, each against the bridge's own answer. Status moves
  // with the clock, so it is compared by its fixed part.
  auto withoutStatus = [](json list) {
    for (auto& entry : list) entry.erase("Status");
    return list;
  };
  auto statusHead = [](const json& list) {
    std::vector<std::string> out;
    for (const auto& entry : list) out.push_back(entry["Status"].get<std::string>().substr(0, 11));
    return out;
  };
  auto withoutSizes = [](json list) {
    for (auto& entry : list) {
      entry.erase("SizeRw");
      entry.erase("SizeRootFs");
    }
    return list;
  };
  std::vector<std::string> queries = {"all=1", "", "limit=2"};
  for (std::string all : {"all=1&", ""}) {
    for (const auto& filter :
         {filterQuery("label", {"a=b"}), filterQuery("label", {"a"}), filterQuery("status", {"exited", "paused"}),
          filterQuery("exited", {"3"}), filterQuery("name", {"^/rm-p"}), filterQuery("name", {"renamed$"}),
          filterQuery("id", {running.substr(0, 3), exited.substr(0, 3)}), filterQuery("id", {""}),
          filterQuery("before", {"rm-exited"}), filterQuery("since", {"rm-paused"}), filterQuery("is-task", {"false"}),
          filterQuery("health", {"none"}), filterQuery("network", {"bridge"}), filterQuery("expose", {"1-65535"})}) {
      queries.push_back(all + filter);
    }
  }
  for (const auto& query : queries) {
    auto fromCopy = listDoc(query);
    auto fromBridge = withoutSizes(listDoc(query + (query.empty() ? "" : "&") + kViaBridge));
    EXPECT_EQ(withoutStatus(fromCopy), withoutStatus(fromBridge)) << query;
    EXPECT_EQ(statusHead(fromCopy), statusHead(fromBridge)) << query;
  }
  // Some of them by name, as dockerd 20.10 lists them for these four containers.
  auto names = [&](const std::string& query) {
    std::string out;
    for (const auto& e : listDoc(query)) out += e["Names"][0].get<std::string>() + " ";
    return out;
  };
  EXPECT_EQ(names(filterQuery("label", {"a=b"})), "/rm-renamed ");
  EXPECT_EQ(names(filterQuery("status", {"exited", "paused"})), "/rm-exited /rm-paused ");
  EXPECT_EQ(names("all=1&" + filterQuery("before", {"rm-exited"})), "/rm-paused /rm-renamed ");
  EXPECT_EQ(names("all=1&" + filterQuery("since", {"rm-paused"})), "/rm-created /rm-exited ");
  EXPECT_EQ(names(filterQuery("since", {"rm-paused"})), "");  // stopped ones only with all=1
  EXPECT_EQ(names(filterQuery("exited", {"3"})), "");
  EXPECT_EQ(names("all=1&" + filterQuery("id", {""})), "");
  EXPECT_EQ(names("all=1&" + filterQuery("name", {"^rm-c"})), "/rm-created ");
  auto all = listDoc("all=1");
  ASSERT_EQ(all.size(), 4u) << all;
  std::vector<std::string> statuses;
  for (const auto& e : all) statuses.push_back(e["Names"][0].get<std::string>() + " " + e["Status"].get<std::string>());
  // Newest first, with dockerd's Status words.
  EXPECT_EQ(statuses[0], "/rm-created Created");
  EXPECT_TRUE(startsWith(statuses[1], "/rm-exited Exited (3) ")) << statuses[1];
  EXPECT_TRUE(startsWith(statuses[2], "/rm-paused Up ") && contains(statuses[2], "(Paused)")) << statuses[2];
  EXPECT_TRUE(startsWith(statuses[3], "/rm-renamed Up ")) << statuses[3];

  // Inspect of each, by name and by id prefix, against the bridge's document with sizes
  // (which adds only SizeRw and SizeRootFs).
  for (const std::string& ref : std::vector<std::string>{"rm-renamed", "rm-paused", "rm-exited", "rm-created", running.substr(0, 12)}) {
    json fromCopy = inspectDoc(ref);
    auto sized = get("/v1.41/containers/" + ref + "/json?size=1");
    ASSERT_EQ(sized.status, 200) << sized.body;
    json fromBridge = bodyOf(sized);
    fromBridge.erase("SizeRw");
    fromBridge.erase("SizeRootFs");
    EXPECT_EQ(fromCopy, fromBridge) << ref;
  }
  EXPECT_EQ(inspectDoc("rm-renamed")["ExecIDs"], json::array({bodyOf(exec)["Id"]}));
  EXPECT_EQ(inspectDoc("rm-paused")["ExecIDs"], json());
}

// Each write acknowledged to the client, then at once a read on a new connection: the read
// shows the write, every time.
TEST_F(ReadModelTest, EveryReadAfterAnAcknowledgedWriteShowsIt) {
  for (int round = 0; round < 5; ++round) {
    std::string name = "rw-" + std::to_string(round);
    auto created = httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/create?name=" + name,
                               R"({"Image":")" + kImage + R"(","Cmd":["sleep","1000"]})", "Content-Type: application/json\r\n");
    ASSERT_EQ(created.status, 201) << created.body;
    std::string id = bodyOf(created)["Id"];
    EXPECT_EQ(inspectDoc(name)["State"]["Status"], "created");
    EXPECT_EQ(listDoc("all=1").size(), 1u);

    ASSERT_EQ(httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/start").status, 204);
    EXPECT_EQ(inspectDoc(id)["State"]["Status"], "running");
    auto listed = listDoc("");
    ASSERT_EQ(listed.size(), 1u) << listed;
    EXPECT_EQ(listed[0]["State"], "running");

    ASSERT_EQ(httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/rename?name=" + name + "-b").status, 204);
    EXPECT_EQ(inspectDoc(id)["Name"], "/" + name + "-b");
    EXPECT_EQ(get("/v1.41/containers/" + name + "/json").status, 404);

    auto exec = httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/exec", R"({"Cmd":["true"]})",
                            "Content-Type: application/json\r\n");
    ASSERT_EQ(exec.status, 201) << exec.body;
    EXPECT_EQ(inspectDoc(id)["ExecIDs"], json::array({bodyOf(exec)["Id"]}));

    ASSERT_EQ(httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/pause").status, 204);
    EXPECT_EQ(inspectDoc(id)["State"]["Status"], "paused");
    ASSERT_EQ(httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/unpause").status, 204);
    EXPECT_EQ(inspectDoc(id)["State"]["Status"], "running");

    ASSERT_EQ(httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/kill").status, 204);
    auto waited = httpRequest(engine_.socketPath(), "POST", "/v1.41/containers/" + id + "/wait");
    ASSERT_EQ(waited.status, 200) << waited.body;
    auto state = inspectDoc(id)["State"];
    EXPECT_EQ(state["Status"], "exited");
    EXPECT_EQ(state["ExitCode"], 137);
    EXPECT_EQ(listDoc("").size(), 0u);

    ASSERT_EQ(httpRequest(engine_.socketPath(), "DELETE", "/v1.41/containers/" + id).status, 204);
    EXPECT_EQ(get("/v1.41/containers/" + id + "/json").status, 404);
    EXPECT_EQ(listDoc("all=1").size(), 0u);
  }
}

// An exit the client learns of from the event stream (no write of its own): the read it makes
// on receiving the event shows the exit.
TEST_F(ReadModelTest, AReadAfterAnEventShowsWhatTheEventReported) {
  HttpExchange events(engine_.socketPath(),
                      "GET /v1.41/events?filters=%7B%22event%22%3A%5B%22die%22%5D%7D HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(events.waitForHead(5000));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(runDetached({"--name", "ev-" + std::to_string(i), kImage, "sh", "-c", "sleep 0.3; exit " + std::to_string(i + 1)}));
    ASSERT_FALSE(ids.back().empty());
  }
  // Each die event, as it arrives, then that container's inspect.
  size_t seen = 0;
  std::string stream;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen < ids.size() && std::chrono::steady_clock::now() < deadline) {
    stream = events.bodySoFar(100);
    // Events are JSON objects, one per chunk: each die names its container as "id".
    std::vector<std::string> died;
    for (size_t at = 0; (at = stream.find("\"Action\":\"die\"", at)) != std::string::npos; ++at) {
      size_t begin = stream.rfind('{', at), idAt = stream.find("\"id\":\"", begin);
      if (begin != std::string::npos && idAt != std::string::npos) died.push_back(stream.substr(idAt + 6, 64));
    }
    for (; seen < died.size(); ++seen) {
      auto state = inspectDoc(died[seen])["State"];
      EXPECT_EQ(state["Status"], "exited") << died[seen];
      EXPECT_NE(state["ExitCode"], 0) << died[seen];
    }
  }
  EXPECT_EQ(seen, ids.size()) << stream.substr(0, 500);
}

// The bridge dead and not yet restarted (the supervisor held): ps and inspect still answer, from
// what the bridge last published, so a crash of the bridge does not make them wait for its
// restore. Nothing newer can have been shown to a client while no bridge runs.
TEST_F(ReadModelTest, WithTheBridgeDeadReadsAnswerWhatItLastPublished) {
  std::string id = runDetached({"--name", "kept", "--label", "com.docker.compose.project=p", kImage, "sleep", "1000"});
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(waitFor([&] { return listDoc("").size() == 1; }, 5s));
  pid_t bridge = engine_.children()["containerd-bridge"].pid;
  ASSERT_GT(bridge, 0);
  {
    Frozen supervisor(engine_.pid());  // no restart until the guard ends
    ASSERT_TRUE(supervisor.stopped());
    ASSERT_EQ(::kill(bridge, SIGKILL), 0);
    ASSERT_TRUE(waitFor([&] { return processGone(bridge) || readText("/proc/" + std::to_string(bridge) + "/stat").find(") Z") != std::string::npos; }, 5s));
    std::this_thread::sleep_for(300ms);  // the model's loop (20 ms rounds) has seen the views channel drop
    auto listed = listDoc("");
    ASSERT_EQ(listed.size(), 1u) << listed;
    EXPECT_EQ(listed[0]["Id"], id);
    EXPECT_EQ(inspectDoc("kept")["State"]["Status"], "running");
    // Docker Compose's listing of a project.
    listed = listDoc("all=1&" + filterQuery("label", {"com.docker.compose.project=p"}));
    ASSERT_EQ(listed.size(), 1u) << listed;
    EXPECT_EQ(listed[0]["Id"], id);
  }
  ASSERT_TRUE(waitFor([&] { return engine_.children()["containerd-bridge"].state == "running"; }, 30s));
  EXPECT_EQ(inspect(engine_, "kept", "{{.State.Status}}"), "running");
}

// After kill -9 of the bridge, a write answered by the new bridge (its stamp) makes the copy
// decline until it has the new bridge's snapshot: a container removed right after the restart
// is gone from every read, and the copy then answers again on its own (the new bridge frozen).
TEST_F(ReadModelTest, AfterTheBridgeRestartsReadsFollowTheNewBridge) {
  std::string keep = runDetached({"--name", "kept", kImage, "sleep", "1000"});
  std::string gone = runDetached({"--name", "gone", kImage, "sleep", "1000"});
  ASSERT_FALSE(keep.empty() || gone.empty());
  pid_t bridge = engine_.killAndAwaitRestart("containerd-bridge");
  ASSERT_EQ(engine_.docker({"rm", "-f", "gone"}).exitCode, 0);
  EXPECT_EQ(get("/v1.41/containers/gone/json").status, 404);
  auto listed = listDoc("all=1");
  ASSERT_EQ(listed.size(), 1u) << listed;
  EXPECT_EQ(listed[0]["Id"], keep);
  // The copy takes the new bridge's snapshot and answers on its own.
  auto frozen = freezeOnceAnsweredWithout(bridge, "/v1.41/containers/json");
  ASSERT_TRUE(frozen) << "the copy never answered with the new bridge frozen";
  EXPECT_EQ(inspectDoc("kept")["State"]["Status"], "running");
  EXPECT_EQ(listDoc("").size(), 1u);
}

}  // namespace
}  // namespace berth::test
