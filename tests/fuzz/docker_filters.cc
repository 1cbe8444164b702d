// Docker's `filters` parameter as the list and prune endpoints read it: DockerFilters (volumes,
// networks, images, containers' checks) and the /events EventFilter, then matching with what
// they parsed: exact names, Go-style regular expressions on names (std::regex backtracks, and
// both the pattern and the name come from clients), label lists.
//
// Input: filters JSON \0 a name to match \0 labels ("k=v" lines) \0 an event action.
#include <map>
#include <sstream>

#include "common/docker_filters.h"
#include "common/errors.h"
#include "services/api/event_filter.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

void requireInvalid(const berth::Error& e, const char* what) {
  if (e.kind() != berth::ErrorKind::invalid) {
    berth::fuzz::invariantBroken(std::string(what) + " refused with a kind other than invalid: " + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::splitInput(data, size, 4);
  const std::string& text = parts[0];
  const std::string& name = parts[1];
  std::map<std::string, std::string> labels;
  std::istringstream lines(parts[2]);
  for (std::string line; std::getline(lines, line);) {
    auto eq = line.find('=');
    labels[line.substr(0, eq)] = eq == std::string::npos ? "" : line.substr(eq + 1);
  }

  try {
    auto filters = berth::DockerFilters::parse(
        text, {"dangling", "name", "driver", "label", "label!", "until", "all", "reference", "id", "status"});
    filters.exactMatch("id", name);
    filters.match("name", name);
    filters.matchKeyValues("label", labels);
    filters.matchKeyValues("label!", labels);
    for (const auto& key : {"dangling", "all"}) {
      for (const auto& v : filters.values(key)) berth::parseGoBool(v);
    }
    berth::invalidFilterValue("name", filters.values("name"));
  } catch (const berth::Error& e) {
    requireInvalid(e, "DockerFilters::parse");
  }

  try {
    auto filter = berth::api::EventFilter::parse(text);
    berth::ipc::EngineEvent e;
    e.type = "container";
    e.action = parts[3];
    e.actorId = name;
    for (const auto& [k, v] : labels) e.attributes.emplace_back(k, v);
    filter.matches(e);
    e.type = "image";
    filter.matches(e);
  } catch (const berth::Error& e) {
    requireInvalid(e, "EventFilter::parse");
  }
  return 0;
}
