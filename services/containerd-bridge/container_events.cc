#include "services/containerd-bridge/container_events.h"

namespace berth::bridge {

EventSink publishContainerEvents(ipc::EventPublisher& publisher) {
  return [&publisher](const std::string& action, const ContainerRecord& r, std::map<std::string, std::string> extra) {
    std::vector<std::pair<std::string, std::string>> attrs;
    if (!r.id.empty()) {
      attrs.emplace_back("image", r.imageRef);
      attrs.emplace_back("name", r.name.empty() ? "" : r.name.substr(1));
      if (r.config.contains("Labels") && r.config["Labels"].is_object()) {
        for (auto it = r.config["Labels"].begin(); it != r.config["Labels"].end(); ++it) {
          if (it.value().is_string()) attrs.emplace_back(it.key(), it.value().get<std::string>());
        }
      }
    }
    for (auto& [k, v] : extra) attrs.emplace_back(k, v);
    publisher.publish({"container", action, r.id, attrs, "local", 0});
  };
}

}  // namespace berth::bridge
