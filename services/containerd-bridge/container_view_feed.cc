#include "services/containerd-bridge/container_view_feed.h"

#include "common/errors.h"

namespace berth::bridge {

ContainerViewFeed::ContainerViewFeed(zmq::context_t& context, std::string endpoint, ContainerStore& store,
                                     const ContainerViews& views, ExecProcesses& execs)
    : store_(store), views_(views), execs_(execs), channel_(context, std::move(endpoint), ipc::ViewKind::containers) {
  store.onChange([this](const std::string& id) { changed(id); });
  execs.onChange([this](const std::string& id) { changed(id); });
}

ContainerViewFeed::~ContainerViewFeed() = default;

void ContainerViewFeed::fill(ipc::ContainerView::Builder out, const std::shared_ptr<const ContainerRecord>& record) const {
  auto p = views_.parts(record);
  out.setId(p.id);
  out.setName(p.name);
  out.setCreated(p.created);
  out.setRunning(p.running);
  if (p.servable) {
    out.setInspectHead(p.inspectHead);
    out.setInspectTail(p.inspectTail);
    out.setListHead(p.listHead);
    out.setListTail(p.listTail);
  }
  out.setExecIds(execs_.idsOf(p.id).dump());
  out.setStatusPrefix(p.statusPrefix);
  out.setStatusSince(p.statusSince);
  out.setStatusSuffix(p.statusSuffix);
  auto f = out.initFacts();
  f.setState(p.facts.state);
  f.setRunning(p.facts.running);
  f.setStarted(p.facts.started);
  f.setExitCode(p.facts.exitCode);
  f.setHealth(p.facts.health);
  f.setImageId(p.facts.imageId);
  f.setImageRef(p.facts.imageRef);
  auto labels = f.initLabels(static_cast<unsigned>(p.facts.labels.size()));
  unsigned i = 0;
  for (const auto& [key, value] : p.facts.labels) {
    labels[i].setKey(key);
    labels[i++].setValue(value);
  }
  auto texts = [](auto list, const std::vector<std::string>& from) {
    for (unsigned j = 0; j < from.size(); ++j) list.set(j, from[j]);
  };
  texts(f.initVolumes(static_cast<unsigned>(p.facts.volumes.size())), p.facts.volumes);
  texts(f.initPublished(static_cast<unsigned>(p.facts.published.size())), p.facts.published);
  texts(f.initExposed(static_cast<unsigned>(p.facts.exposed.size())), p.facts.exposed);
  auto networks = f.initNetworks(static_cast<unsigned>(p.facts.networks.size()));
  i = 0;
  for (const auto& [name, id] : p.facts.networks) {
    networks[i].setName(name);
    networks[i++].setId(id);
  }
}

void ContainerViewFeed::changed(const std::string& id) {
  auto lock = channel_.lock();
  // The record as it is now, read under the lock that numbers changes: whichever of two
  // concurrent changes is told last, the last view published is the current one.
  std::shared_ptr<const ContainerRecord> record;
  try {
    record = store_.find(id);
  } catch (const Error&) {
  }
  if (!record) views_.forget(id);
  channel_.publishLocked([&](ipc::ContainerViewChange::Builder change) {
    if (record) fill(change.initView(), record);
    else change.setRemovedId(id);
  });
}

void ContainerViewFeed::snapshot(ipc::ContainerdBridge::ContainerViewsResults::Builder out) {
  auto lock = channel_.lock();
  uint64_t at = channel_.sequenceLocked();
  auto records = store_.snapshot();
  out.setEpoch(channel_.epoch());
  out.setSeq(at);
  auto list = out.initViews(static_cast<unsigned>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) fill(list[static_cast<unsigned>(i)], records[i]);
  channel_.markLocked(at);
}

}  // namespace berth::bridge
