#include "services/containerd-bridge/public/container_read_model.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <vector>

#include "common/errors.h"
#include "common/time_format.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/view_copy.h"
#include "ipc/schema/containerd_bridge.capnp.h"
#include "services/containerd-bridge/public/container_filter.h"

namespace berth::bridge {

using namespace std::chrono_literals;

struct ContainerReadModel::View {
  ContainerFacts facts;    // id, name, created and running always; the rest when hasFacts
  bool hasFacts = false;   // a bridge older than the facts sends none: filtered lists ask it
  bool servable = false;
  std::string inspectHead, inspectTail, execIds, listHead, listTail, statusPrefix, statusSuffix;
  int64_t statusSince = -1;
};

namespace {

std::shared_ptr<const ContainerReadModel::View> viewOf(ipc::ContainerView::Reader v) {
  auto out = std::make_shared<ContainerReadModel::View>();
  ContainerFacts& c = out->facts;
  c.id = v.getId();
  c.name = v.getName();
  c.created = v.getCreated();
  c.running = v.getRunning();
  if (v.hasFacts()) {
    auto f = v.getFacts();
    out->hasFacts = true;
    c.state = f.getState();
    c.started = f.getStarted();
    c.exitCode = f.getExitCode();
    c.health = f.getHealth();
    c.imageId = f.getImageId();
    c.imageRef = f.getImageRef();
    for (auto l : f.getLabels()) c.labels[l.getKey()] = l.getValue();
    for (auto t : f.getVolumes()) c.volumes.emplace_back(t);
    for (auto n : f.getNetworks()) c.networks.emplace_back(n.getName(), n.getId());
    for (auto t : f.getPublished()) c.published.emplace_back(t);
    for (auto t : f.getExposed()) c.exposed.emplace_back(t);
  }
  out->inspectHead = v.getInspectHead();
  out->inspectTail = v.getInspectTail();
  out->execIds = v.getExecIds();
  out->listHead = v.getListHead();
  out->listTail = v.getListTail();
  out->servable = !out->inspectHead.empty() && !out->listHead.empty() && !out->execIds.empty();
  out->statusPrefix = v.getStatusPrefix();
  out->statusSince = v.getStatusSince();
  out->statusSuffix = v.getStatusSuffix();
  return out;
}

std::string withSlash(const std::string& name) { return !name.empty() && name.front() == '/' ? name : "/" + name; }

}  // namespace

// Every container's view, by full id and by name.
struct ContainerReadModel::Views {
  std::map<std::string, std::shared_ptr<const View>> byId;
  std::map<std::string, std::string> byName;  // "/name" -> id

  void apply(ipc::ContainerViewChange::Reader c) {
    if (c.hasView()) {
      auto view = viewOf(c.getView());
      const std::string& id = view->facts.id;
      if (auto old = byId.find(id); old != byId.end() && old->second->facts.name != view->facts.name) {
        byName.erase(old->second->facts.name);
      }
      byName[view->facts.name] = id;
      byId[id] = std::move(view);
      return;
    }
    std::string id = c.getRemovedId();
    if (auto old = byId.find(id); old != byId.end()) {
      if (auto named = byName.find(old->second->facts.name); named != byName.end() && named->second == id) {
        byName.erase(named);
      }
      byId.erase(old);
    }
  }

  // A view by full id, name or unique id prefix, as the bridge resolves; null otherwise.
  const View* find(const std::string& ref) const {
    // As the bridge's store resolves: the full id, then the name, then a unique id prefix. Not
    // found and ambiguous are the bridge's to say.
    if (ref.empty()) return nullptr;
    if (auto it = byId.find(ref); it != byId.end()) return it->second.get();
    if (auto named = byName.find(withSlash(ref)); named != byName.end()) {
      auto found = byId.find(named->second);
      return found != byId.end() ? found->second.get() : nullptr;
    }
    auto it = byId.lower_bound(ref);
    if (it == byId.end() || it->first.rfind(ref, 0) != 0) return nullptr;
    if (auto next = std::next(it); next != byId.end() && next->first.rfind(ref, 0) == 0) return nullptr;
    return it->second.get();
  }
};

ContainerReadModel::ContainerReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& bridge) {
  auto fetch = [&bridge] {
    auto reply = bridge.call(ipc::methods::bridgeContainerViews(), deadlineIn(2s));
    auto r = reply.get();
    ipc::ViewCopy<Views, ipc::ContainerViewChange>::Snapshot snapshot;
    for (auto v : r.getViews()) {
      auto view = viewOf(v);
      snapshot.state.byName[view->facts.name] = view->facts.id;
      snapshot.state.byId[view->facts.id] = std::move(view);
    }
    snapshot.epoch = r.getEpoch();
    snapshot.seq = r.getSeq();
    return snapshot;
  };
  copy_ = std::make_unique<ipc::ViewCopy<Views, ipc::ContainerViewChange>>(context, std::move(viewsEndpoint),
                                                                            "containers read model", fetch);
}

ContainerReadModel::~ContainerReadModel() = default;

void ContainerReadModel::require(ipc::ViewStamp stamp) { copy_->require(stamp); }
void ContainerReadModel::requireRunAfter(uint64_t sentAt) { copy_->requireRunAfter(sentAt); }

ContainerReadModel::Counts ContainerReadModel::counts() const { return copy_->counts(); }

std::optional<std::string> ContainerReadModel::inspect(const std::string& ref) {
  std::optional<std::string> out;
  if (ref.empty()) {
    copy_->decline();
    return out;
  }
  copy_->read([&](const Views& views) {
    const View* view = views.find(ref);
    if (view == nullptr || !view->servable) return false;
    out.emplace();
    out->reserve(view->inspectHead.size() + view->execIds.size() + view->inspectTail.size());
    *out += view->inspectHead;
    *out += view->execIds;
    *out += view->inspectTail;
    return true;
  });
  return out;
}

std::optional<std::string> ContainerReadModel::list(bool all, int limit, const std::string& filters) {
  std::optional<ContainerFilter> filter;
  try {
    filter.emplace(filters);
  } catch (const Error&) {
    // The bridge refuses it with the same words; one place says why.
  }
  // ancestor= resolves images, which is the images service's (through the bridge).
  if (!filter || !filter->ancestors().empty()) {
    copy_->decline();
    return std::nullopt;
  }
  std::vector<std::shared_ptr<const View>> candidates;
  bool served = copy_->read([&](const Views& views) {
    std::optional<int64_t> before, since;
    if (filter->beforeRef()) {
      const View* v = views.find(*filter->beforeRef());
      if (v == nullptr) return false;
      before = v->facts.created;
    }
    if (filter->sinceRef()) {
      const View* v = views.find(*filter->sinceRef());
      if (v == nullptr) return false;
      since = v->facts.created;
    }
    filter->setBounds(before, since);
    candidates.reserve(views.byId.size());
    for (const auto& [id, view] : views.byId) {
      if (!view->servable || (!filter->empty() && !view->hasFacts)) return false;
      candidates.push_back(view);
    }
    return true;
  });
  if (!served) return std::nullopt;
  // The views are immutable once made: selected and rendered outside the lock.
  auto shown = selectContainers(std::move(candidates), *filter, all, limit,
                                [](const auto& view) -> const ContainerFacts& { return view->facts; });
  int64_t now = nowUnixNanos();
  std::string out = "[";
  for (const auto& view : shown) {
    if (out.size() > 1) out += ',';
    out += view->listHead;
    out += nlohmann::json(statusLine(view->statusPrefix, view->statusSince, view->statusSuffix, now)).dump();
    out += view->listTail;
  }
  out += ']';
  return out;
}

std::optional<std::map<std::string, int64_t>> ContainerReadModel::containersPerImage() {
  std::optional<std::map<std::string, int64_t>> out;
  copy_->read([&](const Views& views) {
    out.emplace();
    for (const auto& [id, view] : views.byId) {
      if (!view->hasFacts) {  // a bridge older than the facts: it counts
        out.reset();
        return false;
      }
      if (!view->facts.imageId.empty()) ++(*out)[view->facts.imageId];
    }
    return true;
  });
  return out;
}

}  // namespace berth::bridge
