#include "services/containerd-bridge/container_view_feed.h"

#include <capnp/message.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include "common/errors.h"
#include "ipc/message.h"

namespace berth::bridge {
namespace {

// The run's start on the boot's clock, in nanoseconds: a later run has a larger epoch, so a
// reader can tell a late stamp of a replaced run from one of the run that replaced it (never 0,
// which means "keeps no views"). The API and every run of the bridge share one boot.
uint64_t newEpoch() {
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000000000u + static_cast<uint64_t>(now.tv_nsec) + 1;
}

}  // namespace

ContainerViewFeed::ContainerViewFeed(zmq::context_t& context, std::string endpoint, ContainerStore& store,
                                     const ContainerViews& views, ExecProcesses& execs)
    : endpoint_(std::move(endpoint)), store_(store), views_(views), execs_(execs), epoch_(newEpoch()),
      pub_(context, zmq::socket_type::pub) {
  pub_.set(zmq::sockopt::linger, 0);
  // A subscriber that falls this far behind loses changes, sees the gap and takes a snapshot.
  pub_.set(zmq::sockopt::sndhwm, 100000);
  if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
  pub_.bind(endpoint_);
  store.onChange([this](const std::string& id) { changed(id); });
  execs.onChange([this](const std::string& id) { changed(id); });
  ipc::setViewStampSource([this] { return stamp(); });
}

ContainerViewFeed::~ContainerViewFeed() {
  ipc::setViewStampSource({});
  if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
}

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

template <typename F>
void ContainerViewFeed::publishLocked(F&& fillChange) {
  uint64_t next = seq_.load(std::memory_order_relaxed) + 1;
  capnp::MallocMessageBuilder mb;
  auto change = mb.initRoot<ipc::ContainerViewChange>();
  change.setEpoch(epoch_);
  change.setSeq(next);
  fillChange(change);
  auto frame = ipc::encode(mb);
  // Never blocks: with no subscriber, or one past its high-water mark, the change is dropped
  // for it (it sees the gap). The sequence moves on either way: replies are stamped with it.
  pub_.send(frame, zmq::send_flags::dontwait);
  seq_.store(next, std::memory_order_release);
}

void ContainerViewFeed::changed(const std::string& id) {
  std::lock_guard lock(mutex_);
  // The record as it is now, read under the lock that numbers changes: whichever of two
  // concurrent changes is told last, the last view published is the current one.
  std::shared_ptr<const ContainerRecord> record;
  try {
    record = store_.find(id);
  } catch (const Error&) {
  }
  if (!record) views_.forget(id);
  publishLocked([&](ipc::ContainerViewChange::Builder change) {
    if (record) fill(change.initView(), record);
    else change.setRemovedId(id);
  });
}

void ContainerViewFeed::snapshot(ipc::ContainerdBridge::ContainerViewsResults::Builder out) {
  std::lock_guard lock(mutex_);
  uint64_t at = seq_.load(std::memory_order_relaxed);
  auto records = store_.snapshot();
  out.setEpoch(epoch_);
  out.setSeq(at);
  auto list = out.initViews(static_cast<unsigned>(records.size()));
  for (size_t i = 0; i < records.size(); ++i) fill(list[static_cast<unsigned>(i)], records[i]);
  capnp::MallocMessageBuilder mb;
  auto mark = mb.initRoot<ipc::ContainerViewChange>();
  mark.setEpoch(epoch_);
  mark.setSeq(at);
  mark.setMark(true);
  auto frame = ipc::encode(mb);
  pub_.send(frame, zmq::send_flags::dontwait);
}

}  // namespace berth::bridge
