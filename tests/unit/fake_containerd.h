// In-memory stand-ins for the containers core's edges (containerd, the images service, the
// host, background work), for unit tests that drive the lifecycle without root or containerd.
// The fake containerd keeps containers and tasks as containerd would, lets a test end a task,
// make its state unknown or its calls fail, and records every call; it also records each time
// a container object was deleted while a task of it still existed, which must never happen.
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "common/time_format.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers.h"
#include "services/containerd-bridge/network_service.h"
#include "services/containerd-bridge/volume_service.h"

namespace berth::bridge::testing {

// containerd's state, with its Containers and Tasks services as two views (tasks(),
// containers()) over it.
class FakeContainerd {
 public:
  struct Task {
    TaskStatus status = TaskStatus::created;
    uint32_t pid = 0;
    TaskExit exit;
    std::set<int> ignoredSignals;  // signals the process survives (no handler: SIGTERM to PID 1)
  };

  // ---- what a test makes happen ----
  // The task's process exits with `code`.
  void exitTask(const std::string& id, uint32_t code) { endTask(id, code, true); }
  // The task's process exits with `code` and no event reaches a subscriber (one lost while the
  // subscription was being made again, say): only its state tells.
  void exitTaskUnannounced(const std::string& id, uint32_t code) { endTask(id, code, false); }
  // The task's shim died and containerd cleaned up after it: the task is gone from its list
  // (the container object stays), and no event has come yet.
  void loseTask(const std::string& id) {
    {
      std::lock_guard lock(mutex_);
      tasks_.erase(id);
    }
    changed_.notify_all();
  }
  // An exit event as containerd publishes it, whatever the task's state (a late or duplicate
  // one, or containerd's cleanup after a dead shim, which names pid 0).
  void publishExit(const std::string& id, uint32_t pid, uint32_t code) {
    {
      std::lock_guard lock(mutex_);
      exitLog_.push_back({id, id, pid, {code, nowUnixNanos()}});
    }
    changed_.notify_all();
  }
  // The next task started exits at once, before Tasks.Start returns, with `code`.
  void exitOnNextStart(uint32_t code) {
    std::lock_guard lock(mutex_);
    exitOnStart_ = code;
  }
  void ignoreSignal(const std::string& id, int signal) {
    std::lock_guard lock(mutex_);
    tasks_[id].ignoredSignals.insert(signal);
  }
  // Tasks.Get answers as containerd does when the shim's state call times out.
  void stateUnknown(bool on) {
    std::lock_guard lock(mutex_);
    stateUnknown_ = on;
  }
  // Every call fails `unavailable` (containerd is down); waits in progress fail too.
  void down(bool on) {
    {
      std::lock_guard lock(mutex_);
      down_ = on;
    }
    changed_.notify_all();
  }
  // A task containerd holds without berth having asked for it through this fake (as after a
  // bridge crash between the task's start and the record's update).
  void addRunningTask(const std::string& id, uint32_t pid) {
    std::lock_guard lock(mutex_);
    containers_.insert(id);
    tasks_[id] = Task{TaskStatus::running, pid, {}, {}};
  }
  // Tasks.Delete waits while on (as a slow shim makes it), until off, down or shut down.
  void holdTaskDeletes(bool on) {
    {
      std::lock_guard lock(mutex_);
      holdTaskDeletes_ = on;
    }
    changed_.notify_all();
  }
  // Ends every wait: the test is over.
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    changed_.notify_all();
  }

  // ---- what a test looks at ----
  bool hasContainer(const std::string& id) const {
    std::lock_guard lock(mutex_);
    return containers_.count(id) > 0;
  }
  std::optional<Task> task(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<std::string> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  size_t count(const std::string& call) const {
    std::lock_guard lock(mutex_);
    return static_cast<size_t>(std::count(calls_.begin(), calls_.end(), call));
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }

  // ---- containerd's Containers service ----
  void createContainer(const std::string& id) {
    std::lock_guard lock(mutex_);
    record("Containers.Create");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    if (!containers_.insert(id).second) throw Error(ErrorKind::conflict, "containerd Containers.Create: " + id + ": already exists");
  }
  void removeContainer(const std::string& id) {
    std::lock_guard lock(mutex_);
    record("Containers.Delete");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    if (tasks_.count(id)) violations_.push_back("Containers.Delete of " + id + " while its task exists");
    containers_.erase(id);
  }
  std::vector<std::string> listContainers() {
    std::lock_guard lock(mutex_);
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    return {containers_.begin(), containers_.end()};
  }

  // ---- containerd's Tasks service ----
  uint32_t createTask(const std::string& id) {
    std::lock_guard lock(mutex_);
    record("Tasks.Create");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    if (!containers_.count(id)) throw Error(ErrorKind::notFound, "container " + id + " not found");
    if (tasks_.count(id)) throw Error(ErrorKind::conflict, "task " + id + " already exists");
    auto& t = tasks_[id];
    t.status = TaskStatus::created;
    t.pid = nextPid_++;
    return t.pid;
  }
  uint32_t start(const std::string& id, const std::string& execId) {
    std::unique_lock lock(mutex_);
    record(execId.empty() ? "Tasks.Start" : "Tasks.Start exec");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    if (!execId.empty()) {
      if (failExecStarts_) throw Error(ErrorKind::internal, "containerd Tasks.Start: ttrpc: closed: unknown");
      return nextPid_++;
    }
    auto it = tasks_.find(id);
    if (it == tasks_.end()) throw Error(ErrorKind::notFound, "task " + id + " not found");
    if (failStart_) {
      it->second.status = TaskStatus::stopped;
      throw Error(ErrorKind::internal, failStart_message_);
    }
    it->second.status = TaskStatus::running;
    if (exitOnStart_) {
      it->second.status = TaskStatus::stopped;
      it->second.exit = {*exitOnStart_, nowUnixNanos()};
      exitLog_.push_back({id, id, it->second.pid, it->second.exit});
      exitOnStart_.reset();
      changed_.notify_all();
      // Returns once a subscriber has had the event (when there is one), as a slow return does.
      size_t logged = exitLog_.size();
      changed_.wait_for(lock, std::chrono::seconds(2), [&] { return subscribers_ == 0 || delivered_ >= logged; });
    }
    return it->second.pid;
  }
  void failNextStarts(const std::string& message) {
    std::lock_guard lock(mutex_);
    failStart_ = true;
    failStart_message_ = message;
  }
  // An exec process is added to its task; it has ended unless holdExecs(true), then it runs
  // until endExec.
  void exec(const std::string& id, const std::string& execId) {
    std::lock_guard lock(mutex_);
    record("Tasks.Exec");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    processes_[{id, execId}] = holdExecs_;
  }
  void holdExecs(bool on) {
    std::lock_guard lock(mutex_);
    holdExecs_ = on;
  }
  // An exec's Tasks.Start fails as one cut by containerd's death does; the process stays.
  void failExecStarts(bool on) {
    std::lock_guard lock(mutex_);
    failExecStarts_ = on;
  }
  void endExec(const std::string& id, const std::string& execId) {
    {
      std::lock_guard lock(mutex_);
      auto it = processes_.find({id, execId});
      if (it != processes_.end()) it->second = false;
    }
    changed_.notify_all();
  }
  // The next `n` Tasks.DeleteProcess fail as one does when containerd's connection to the shim
  // closes under it.
  void failProcessDeletions(int n) {
    std::lock_guard lock(mutex_);
    failProcessDeletions_ = n;
  }
  void removeProcess(const std::string& id, const std::string& execId) {
    std::lock_guard lock(mutex_);
    record("Tasks.DeleteProcess");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    if (failProcessDeletions_ > 0) {
      --failProcessDeletions_;
      throw Error(ErrorKind::internal, "containerd Tasks.DeleteProcess: ttrpc: closed: unknown");
    }
    auto it = processes_.find({id, execId});
    if (it == processes_.end()) return;  // absent is no error
    if (it->second) throw Error(ErrorKind::internal, "containerd Tasks.DeleteProcess: cannot delete a running process: unknown");
    processes_.erase(it);
  }
  // The exec processes containerd holds (running or ended, not deleted), as "container/exec".
  std::vector<std::string> processes() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [key, running] : processes_) out.push_back(key.first + "/" + key.second);
    return out;
  }
  void kill(const std::string& id, const std::string& execId, int signal) {
    {
      std::lock_guard lock(mutex_);
      record("Tasks.Kill " + std::to_string(signal));
      if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
      if (!execId.empty()) {
        // SIGKILL ends a running exec; other signals leave it to the test.
        auto process = processes_.find({id, execId});
        if (signal == SIGKILL && process != processes_.end()) process->second = false;
      }
    }
    if (!execId.empty()) {
      changed_.notify_all();
      return;
    }
    {
      std::lock_guard lock(mutex_);
      auto it = tasks_.find(id);
      if (it == tasks_.end()) throw Error(ErrorKind::notFound, "task " + id + " not found");
      if (it->second.status == TaskStatus::stopped) throw Error(ErrorKind::notFound, "process already finished");
      if (it->second.ignoredSignals.count(signal)) return;
      it->second.status = TaskStatus::stopped;
      it->second.exit = {static_cast<uint32_t>(128 + signal), nowUnixNanos()};
      exitLog_.push_back({id, id, it->second.pid, it->second.exit});
    }
    changed_.notify_all();
  }
  void pause(const std::string& id) { setStatus(id, "Tasks.Pause", TaskStatus::paused); }
  void resume(const std::string& id) { setStatus(id, "Tasks.Resume", TaskStatus::running); }
  void note(const std::string& call) {
    std::lock_guard lock(mutex_);
    record(call);
  }
  std::vector<uint32_t> pids(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = tasks_.find(id);
    return it == tasks_.end() ? std::vector<uint32_t>{} : std::vector<uint32_t>{it->second.pid};
  }
  TaskState state(const std::string& id) {
    std::lock_guard lock(mutex_);
    record("Tasks.Get");
    TaskState s;
    if (down_) {
      s.why = "containerd is down";
      return s;
    }
    if (stateUnknown_) {
      s.why = "containerd reports the task's status as unknown";
      return s;
    }
    auto it = tasks_.find(id);
    // containerd looks a task up through its container: none without the container object.
    if (it == tasks_.end() || !containers_.count(id)) {
      s.answer = TaskState::Answer::absent;
      return s;
    }
    s.answer = TaskState::Answer::present;
    s.status = it->second.status;
    s.pid = it->second.pid;
    s.exit = it->second.exit;
    return s;
  }
  std::vector<TaskListing> listTasks() {
    std::lock_guard lock(mutex_);
    record("Tasks.List");
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    return listLocked();
  }
  TaskExit wait(const std::string& id, const std::string& execId, Deadline deadline) {
    std::unique_lock lock(mutex_);
    record("Tasks.Wait");
    for (;;) {
      if (!execId.empty()) {
        if (down_ || shutdown_) throw Error(ErrorKind::unavailable, "containerd is down");
        auto process = processes_.find({id, execId});
        if (process == processes_.end()) throw Error(ErrorKind::notFound, "process " + execId + " not found");
        if (!process->second) return {0, nowUnixNanos()};
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
          throw Error(ErrorKind::deadlineExceeded, "containerd Tasks.Wait: context deadline exceeded");
        }
        continue;
      }
      if (down_ || shutdown_) throw Error(ErrorKind::unavailable, "containerd is down");
      if (!containers_.count(id)) throw Error(ErrorKind::notFound, "container " + id + " not found");
      auto it = tasks_.find(id);
      if (it == tasks_.end()) throw Error(ErrorKind::notFound, "task " + id + " not found");
      if (it->second.status == TaskStatus::stopped) return it->second.exit;
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
        throw Error(ErrorKind::deadlineExceeded, "containerd Tasks.Wait: context deadline exceeded");
      }
    }
  }
  std::optional<TaskExit> removeTask(const std::string& id) {
    std::unique_lock lock(mutex_);
    record("Tasks.Delete");
    changed_.wait(lock, [&] { return !holdTaskDeletes_ || down_ || shutdown_; });
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return std::nullopt;
    if (it->second.status == TaskStatus::running || it->second.status == TaskStatus::paused) {
      throw Error(ErrorKind::conflict, "containerd Tasks.Delete: task must be stopped before deletion: running");
    }
    TaskExit exit = it->second.exit;
    tasks_.erase(it);
    for (auto process = processes_.begin(); process != processes_.end();) {  // its execs go with it
      if (process->first.first == id) process = processes_.erase(process);
      else ++process;
    }
    changed_.notify_all();
    return exit;
  }
  // /tasks/exit: every exit from the subscription on, until containerd goes down or shuts down.
  void watchExits(const std::function<void()>& onSubscribed, const std::function<void(const ExitEvent&)>& onExit,
                  const std::function<bool()>& keepGoing) {
    size_t next = 0;
    {
      std::lock_guard lock(mutex_);
      record("Events.Subscribe");
      if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
      next = exitLog_.size();
      ++subscribers_;
    }
    struct Leave {
      FakeContainerd& f;
      ~Leave() {
        {
          std::lock_guard lock(f.mutex_);
          --f.subscribers_;
        }
        f.changed_.notify_all();
      }
    } leave{*this};
    onSubscribed();
    while (keepGoing()) {
      std::vector<ExitEvent> due;
      {
        std::unique_lock lock(mutex_);
        if (down_ || shutdown_) return;
        if (next == exitLog_.size()) changed_.wait_for(lock, std::chrono::milliseconds(20));
        if (down_ || shutdown_) return;  // what happens while down reaches no subscriber
        due.assign(exitLog_.begin() + static_cast<std::ptrdiff_t>(next), exitLog_.end());
        next = exitLog_.size();
      }
      for (const auto& e : due) onExit(e);
      {
        std::lock_guard lock(mutex_);
        delivered_ = std::max(delivered_, next);
      }
      changed_.notify_all();
    }
  }
  void watchOom(const std::function<bool()>& keepGoing) {
    while (keepGoing()) {
      std::unique_lock lock(mutex_);
      if (shutdown_) return;
      changed_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }

 private:
  class Containers final : public ContainerdContainers {
   public:
    explicit Containers(FakeContainerd& f) : f_(f) {}
    void create(const std::string& id, const std::string&, Deadline) override { f_.createContainer(id); }
    void remove(const std::string& id, Deadline) override { f_.removeContainer(id); }
    std::vector<std::string> list(Deadline) override { return f_.listContainers(); }

   private:
    FakeContainerd& f_;
  };
  class Tasks final : public ContainerdTasks {
   public:
    explicit Tasks(FakeContainerd& f) : f_(f) {}
    uint32_t create(const std::string& id, const TaskStdio&, const std::vector<Mount>&, Deadline) override {
      return f_.createTask(id);
    }
    uint32_t start(const std::string& id, const std::string& execId, Deadline) override { return f_.start(id, execId); }
    void exec(const std::string& id, const std::string& execId, const std::string&, const TaskStdio&, Deadline) override {
      f_.exec(id, execId);
    }
    void kill(const std::string& id, const std::string& execId, int signal, bool, Deadline) override {
      f_.kill(id, execId, signal);
    }
    void pause(const std::string& id, Deadline) override { f_.pause(id); }
    void resume(const std::string& id, Deadline) override { f_.resume(id); }
    void update(const std::string&, const nlohmann::json&, Deadline) override { f_.note("Tasks.Update"); }
    void resizePty(const std::string&, const std::string&, uint32_t, uint32_t, Deadline) override {
      f_.note("Tasks.ResizePty");
    }
    void closeStdin(const std::string&, const std::string&, Deadline) override {}
    std::vector<uint32_t> pids(const std::string& id, Deadline) override { return f_.pids(id); }
    TaskState state(const std::string& id, const std::string&, Deadline) override { return f_.state(id); }
    std::vector<TaskListing> list(Deadline) override { return f_.listTasks(); }
    TaskExit wait(const std::string& id, const std::string& execId, Deadline deadline) override {
      return f_.wait(id, execId, deadline);
    }
    std::optional<TaskExit> remove(const std::string& id, Deadline) override { return f_.removeTask(id); }
    void removeProcess(const std::string& id, const std::string& execId, Deadline) override {
      f_.removeProcess(id, execId);
    }
    void watchExits(const std::function<void()>& onSubscribed, const std::function<void(const ExitEvent&)>& onExit,
                    const std::function<bool()>& keepGoing) override {
      f_.watchExits(onSubscribed, onExit, keepGoing);
    }
    void watchOom(const std::function<void(const std::string&)>&, const std::function<bool()>& keepGoing) override {
      f_.watchOom(keepGoing);
    }

   private:
    FakeContainerd& f_;
  };

 public:
  ContainerdContainers& containers() { return containersView_; }
  ContainerdTasks& tasks() { return tasksView_; }

 private:
  void record(const std::string& call) { calls_.push_back(call); }
  // The task's process exits with `code`; `announce`: its /tasks/exit event is published.
  void endTask(const std::string& id, uint32_t code, bool announce) {
    {
      std::lock_guard lock(mutex_);
      auto it = tasks_.find(id);
      if (it == tasks_.end() || it->second.status == TaskStatus::stopped) return;
      it->second.status = TaskStatus::stopped;
      it->second.exit = {code, nowUnixNanos()};
      if (announce) exitLog_.push_back({id, id, it->second.pid, it->second.exit});
    }
    changed_.notify_all();
  }
  void setStatus(const std::string& id, const std::string& call, TaskStatus status) {
    std::lock_guard lock(mutex_);
    record(call);
    if (down_) throw Error(ErrorKind::unavailable, "containerd is down");
    auto it = tasks_.find(id);
    if (it == tasks_.end() || it->second.status == TaskStatus::stopped) {
      throw Error(ErrorKind::notFound, "task " + id + " not found");
    }
    it->second.status = status;
  }
  std::vector<TaskListing> listLocked() const {
    std::vector<TaskListing> out;
    for (const auto& [id, t] : tasks_) out.push_back({id, t.status, true, t.pid});
    return out;
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> containers_;
  std::map<std::string, Task> tasks_;
  std::vector<std::string> calls_;
  std::vector<std::string> violations_;
  uint32_t nextPid_ = 1000;
  bool stateUnknown_ = false;
  bool down_ = false;
  bool shutdown_ = false;
  bool failStart_ = false;
  bool failExecStarts_ = false;
  std::optional<uint32_t> exitOnStart_;
  std::vector<ExitEvent> exitLog_;  // every exit of a task's init process, in order
  size_t subscribers_ = 0;
  size_t delivered_ = 0;  // how much of exitLog_ a subscriber has had
  std::string failStart_message_;
  std::map<std::pair<std::string, std::string>, bool> processes_;  // {container, exec} -> running
  bool holdExecs_ = false;
  bool holdTaskDeletes_ = false;
  int failProcessDeletions_ = 0;
  Containers containersView_{*this};
  Tasks tasksView_{*this};
};

// The volumes service's tables in memory: volumes, references, mounts. down(true) makes every
// call fail `unavailable`, as while the service restarts.
// The network service in memory: which containers have a namespace, the networks that exist,
// and whether it answers. A container on a network gets 10.0.0.<n>, the network's gateway
// 10.0.0.1.
class FakeNetwork final : public NetworkService {
 public:
  Attached attach(const std::string& container, const nlohmann::json& request, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    namespaces_.insert(container);
    requests_[container] = request;
    std::string mode = request.value("NetworkMode", "default");
    nlohmann::json networks = nlohmann::json::object();
    if (mode != "none") {
      networks[mode == "default" ? "bridge" : mode] = {{"IPAddress", "10.0.0." + std::to_string(2 + namespaces_.size())},
                                                      {"Gateway", "10.0.0.1"},
                                                      {"IPPrefixLen", 24}};
    }
    return {"/netns/" + container, {{"Networks", networks}, {"Ports", nlohmann::json::object()}, {"Nameservers", nlohmann::json::array()}}};
  }
  void checkNetwork(const std::string& ref, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    if (!networks_.count(ref)) throw Error(ErrorKind::notFound, "network " + ref + " not found");
  }
  nlohmann::json connect(const std::string& container, const std::string& network, const nlohmann::json&,
                         Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    connected_[container].insert(network);
    return {{"Networks", {{network, {{"IPAddress", "10.0.1.2"}}}}}, {"Ports", nlohmann::json::object()}};
  }
  nlohmann::json disconnect(const std::string& container, const std::string& network, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    if (!connected_[container].erase(network)) {
      throw Error(ErrorKind::forbidden, "container " + container + " is not connected to network " + network);
    }
    return {{"Networks", nlohmann::json::object()}, {"Ports", nlohmann::json::object()}};
  }
  void addNetwork(const std::string& name) {
    std::lock_guard lock(mutex_);
    networks_.insert(name);
  }
  nlohmann::json requestOf(const std::string& container) const {
    std::lock_guard lock(mutex_);
    auto it = requests_.find(container);
    return it == requests_.end() ? nlohmann::json() : it->second;
  }
  void detach(const std::string& container, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    namespaces_.erase(container);
  }
  void reconcile(const std::vector<std::string>& containers, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    std::set<std::string> keep(containers.begin(), containers.end());
    std::erase_if(namespaces_, [&](const std::string& c) { return !keep.count(c); });
    ++reconciles_;
  }
  void down(bool isDown) {
    std::lock_guard lock(mutex_);
    down_ = isDown;
  }
  std::set<std::string> namespaces() const {
    std::lock_guard lock(mutex_);
    return namespaces_;
  }
  int reconciles() const {
    std::lock_guard lock(mutex_);
    return reconciles_;
  }

 private:
  void check() const {
    if (down_) throw Error(ErrorKind::unavailable, "the network service is restarting");
  }
  mutable std::mutex mutex_;
  std::set<std::string> namespaces_;
  std::set<std::string> networks_;
  std::map<std::string, nlohmann::json> requests_;
  std::map<std::string, std::set<std::string>> connected_;
  bool down_ = false;
  int reconciles_ = 0;
};

class FakeVolumes final : public VolumeService {
 public:
  Volume create(const Request& request, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    std::string name = request.name.empty() ? "anon" + std::to_string(++anonymous_) : request.name;
    if (!volumes_.count(name)) volumes_[name] = {request.anonymous, {}, 0};
    return {name, "/volumes/" + name + "/_data"};
  }
  void reference(const std::string& container, const std::vector<std::string>& names, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    for (const auto& n : names) {
      if (!volumes_.count(n)) throw Error(ErrorKind::notFound, "get " + n + ": no such volume");
    }
    references_[container] = std::set<std::string>(names.begin(), names.end());
  }
  void release(const std::string& container, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    references_.erase(container);
    for (auto& [name, v] : volumes_) v.mounts -= static_cast<int>(mountsOf_[container].count(name));
    mountsOf_.erase(container);
  }
  void populate(const std::string& container, const std::string& name, const std::string& copyFrom, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    if (!references_[container].count(name)) throw Error(ErrorKind::internal, "populate without a reference");
    volumes_.at(name).populatedFrom.push_back(copyFrom);
  }
  std::string mount(const std::string& container, const std::string& name, const std::string&, bool, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    if (!references_[container].count(name)) throw Error(ErrorKind::internal, "mount without a reference");
    if (mountsOf_[container].insert(name).second) volumes_.at(name).mounts += 1;
    return "/volumes/" + name + "/_data";
  }
  void unmount(const std::string& container, const std::string& name, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    if (mountsOf_[container].erase(name)) volumes_.at(name).mounts -= 1;
  }
  void remove(const std::string& name, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    for (const auto& [c, names] : references_) {
      if (names.count(name)) throw Error(ErrorKind::conflict, "remove " + name + ": volume is in use - [" + c + "]");
    }
    if (!volumes_.erase(name)) throw Error(ErrorKind::notFound, "get " + name + ": no such volume");
  }
  void reconcile(const std::vector<Usage>& usage, Deadline) override {
    std::lock_guard lock(mutex_);
    check();
    references_.clear();
    mountsOf_.clear();
    for (auto& [name, v] : volumes_) v.mounts = 0;
    for (const auto& u : usage) {
      references_[u.container] = std::set<std::string>(u.volumes.begin(), u.volumes.end());
      for (const auto& n : u.mounted) {
        if (mountsOf_[u.container].insert(n).second && volumes_.count(n)) volumes_.at(n).mounts += 1;
      }
    }
    ++reconciles_;
  }

  void down(bool isDown) {
    std::lock_guard lock(mutex_);
    down_ = isDown;
  }
  bool exists(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return volumes_.count(name) > 0;
  }
  std::set<std::string> referencedBy(const std::string& container) const {
    std::lock_guard lock(mutex_);
    auto it = references_.find(container);
    return it == references_.end() ? std::set<std::string>{} : it->second;
  }
  int mounts(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return volumes_.at(name).mounts;
  }
  std::vector<std::string> populatedFrom(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return volumes_.at(name).populatedFrom;
  }
  std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [n, v] : volumes_) out.push_back(n);
    return out;
  }
  int reconciles() const {
    std::lock_guard lock(mutex_);
    return reconciles_;
  }

 private:
  void check() const {
    if (down_) throw Error(ErrorKind::unavailable, "the volumes service is restarting");
  }
  struct Entry {
    bool anonymous = false;
    std::vector<std::string> populatedFrom;
    int mounts = 0;
  };
  mutable std::mutex mutex_;
  bool down_ = false;
  int anonymous_ = 0;
  int reconciles_ = 0;
  std::map<std::string, Entry> volumes_;
  std::map<std::string, std::set<std::string>> references_;
  std::map<std::string, std::set<std::string>> mountsOf_;
};

class FakeImageLayers final : public ImageLayers {
 public:
  void add(const std::string& ref, const std::string& id, nlohmann::json config) {
    std::lock_guard lock(mutex_);
    images_[ref] = {id, std::move(config)};
  }
  Image inspect(const std::string& ref, Deadline) override {
    std::lock_guard lock(mutex_);
    auto it = images_.find(ref);
    if (it == images_.end()) throw Error(ErrorKind::notFound, "No such image: " + ref);
    return it->second;
  }
  Prepared prepare(const std::string& container, const std::string& image, Deadline) override {
    std::lock_guard lock(mutex_);
    ++prepares_;
    Image found;
    for (const auto& [ref, img] : images_) {
      if (ref == image || img.id == image) found = img;
    }
    if (found.id.empty()) throw Error(ErrorKind::notFound, "No such image: " + image);
    layers_.insert(container);
    return {found, {Mount{"overlay", "overlay", {"lowerdir=/layers/" + found.id}}}};
  }
  int prepares() const {
    std::lock_guard lock(mutex_);
    return prepares_;
  }
  void release(const std::string& container, Deadline) override {
    std::lock_guard lock(mutex_);
    layers_.erase(container);
  }
  bool hasLayer(const std::string& container) const {
    std::lock_guard lock(mutex_);
    return layers_.count(container) > 0;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Image> images_;
  std::set<std::string> layers_;
  int prepares_ = 0;
};

// Mounts are directories the fake makes and remembers; nothing touches the host.
class FakeHostOps final : public HostOps {
 public:
  void mountRootfs(const std::vector<Mount>&, const std::string& target) override {
    std::filesystem::create_directories(target);
    std::lock_guard lock(mutex_);
    mounted_.insert(target);
  }
  void unmountRootfs(const std::string& target) override {
    std::lock_guard lock(mutex_);
    mounted_.erase(target);
  }
  bool mounted(const std::string& target) override {
    std::lock_guard lock(mutex_);
    return mounted_.count(target) > 0;
  }
  std::string readHostFile(const std::string&) override { return ""; }
  void spawnDetached(const std::vector<std::string>&) override {}
  // Whether containers' loggers drain on request (off: every exit waits for the task's deletion).
  void loggersDrain(bool on) { loggersDrain_ = on; }
  bool drainLogger(const std::string&, std::chrono::milliseconds) override { return loggersDrain_; }
  // What every container's root filesystem holds at `path`: a directory or a file.
  void imageHas(const std::string& path, RootfsEntry::Kind kind) {
    std::lock_guard lock(mutex_);
    image_[path] = kind;
  }
  RootfsEntry lookupInRootfs(const std::string& rootfs, const std::string& path) override {
    std::lock_guard lock(mutex_);
    if (!mounted_.count(rootfs)) throw Error(ErrorKind::internal, "lookup in " + rootfs + ", which is not mounted");
    auto it = image_.find(path);
    if (it == image_.end()) return {};
    return {it->second, rootfs + path};
  }

 private:
  std::mutex mutex_;
  std::set<std::string> mounted_;
  std::map<std::string, RootfsEntry::Kind> image_;
  std::atomic<bool> loggersDrain_{false};
};

// Background work on threads the test joins; delayed work (restart backoff) waits until the
// test fires it, and its delays are recorded.
class ManualScheduler final : public Scheduler {
 public:
  ~ManualScheduler() override { joinAll(); }
  void run(std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    threads_.emplace_back([fn = std::move(fn)] {
      try {
        fn();
      } catch (const std::exception&) {
      }
    });
  }
  void after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    std::lock_guard lock(mutex_);
    delays_.push_back(delay);
    timers_.push_back(std::move(fn));
  }
  // Runs the pending delayed work on the calling thread; how many ran.
  size_t fireTimers() {
    std::deque<std::function<void()>> due;
    {
      std::lock_guard lock(mutex_);
      due.swap(timers_);
    }
    for (auto& fn : due) fn();
    return due.size();
  }
  size_t pendingTimers() const {
    std::lock_guard lock(mutex_);
    return timers_.size();
  }
  // Pending delayed work dies with the process that scheduled it.
  void dropTimers() {
    std::lock_guard lock(mutex_);
    timers_.clear();
  }
  std::vector<std::chrono::milliseconds> delays() const {
    std::lock_guard lock(mutex_);
    return delays_;
  }
  // Joins every thread, including those the joined ones started.
  void joinAll() {
    for (;;) {
      std::vector<std::thread> threads;
      {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
      }
      if (threads.empty()) return;
      for (auto& t : threads) t.join();
    }
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> timers_;
  std::vector<std::chrono::milliseconds> delays_;
};

}  // namespace berth::bridge::testing
