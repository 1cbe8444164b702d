#include "services/containerd-bridge/containerd_client.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "common/errors.h"
#include "common/random.h"
#include "common/time_format.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace berth::bridge {
namespace {

namespace tasks = containerd::services::tasks::v1;
namespace containers = containerd::services::containers::v1;

ErrorKind kindOf(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: return ErrorKind::unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return ErrorKind::deadlineExceeded;
    case grpc::StatusCode::NOT_FOUND: return ErrorKind::notFound;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION: return ErrorKind::conflict;
    case grpc::StatusCode::INVALID_ARGUMENT: return ErrorKind::invalid;
    default: return ErrorKind::internal;
  }
}

[[noreturn]] void fail(const std::string& call, const grpc::Status& status) {
  throw Error(kindOf(status), "containerd " + call + ": " + status.error_message());
}

void prepare(grpc::ClientContext& ctx, const std::string& ns, Deadline deadline) {
  ctx.set_deadline(toSystemClock(deadline));
  ctx.AddMetadata("containerd-namespace", ns);
}

int64_t nanosOf(const google::protobuf::Timestamp& t) { return unixNanosOf(t.seconds(), t.nanos()); }

TaskStatus statusOf(containerd::v1::types::Status s, bool& known) {
  known = true;
  switch (s) {
    case containerd::v1::types::CREATED: return TaskStatus::created;
    case containerd::v1::types::RUNNING: return TaskStatus::running;
    case containerd::v1::types::STOPPED: return TaskStatus::stopped;
    case containerd::v1::types::PAUSED: return TaskStatus::paused;
    case containerd::v1::types::PAUSING: return TaskStatus::pausing;
    default: known = false; return TaskStatus::created;
  }
}

}  // namespace

// How long a call that cannot connect waits for containerd to be back (within its deadline):
// the supervisor restarts a killed containerd in well under a second.
constexpr auto kRestartWait = std::chrono::seconds(5);
constexpr auto kRetryPause = std::chrono::milliseconds(25);
// The topic of the mark the bridge publishes to know its event subscription is in place.
constexpr const char* kSubscribedTopic = "/berth/bridge/subscribed";

// True when the call never reached containerd (nothing listened on its socket), so making it
// again cannot act twice. A call cut in flight ("Socket closed") may have acted: never repeated.
bool neverConnected(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         status.error_message().find("failed to connect to all addresses") != std::string::npos;
}

// The gRPC channel to containerd. When containerd dies, a call made before its replacement
// listens makes the channel's connection attempt fail, and this gRPC (Debian's 1.51) then
// keeps the channel in TRANSIENT_FAILURE for seconds after containerd is back, failing every
// call. A call that fails `unavailable` therefore renews the channel (with a subchannel of its
// own), so the next call connects at once.
class ContainerdClient::Channel {
 public:
  Channel(std::string socketPath, std::string ns) : ns(std::move(ns)), socketPath_(std::move(socketPath)) {
    // Debian builds Abseil without NDEBUG, so its debug-only deadlock detector ran on every
    // absl::Mutex gRPC locks: a lock-order graph behind one global spin lock, memory it never
    // returns (about 0.4 MB after a burst), and an abort of the bridge at any inversion it sees
    // (docs/performance.md, "Abseil's deadlock detector"). A release build of Abseil has it off.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    current_ = open();
  }

  std::shared_ptr<grpc::Channel> get() {
    std::lock_guard lock(mutex_);
    return current_;
  }

  // Makes one call, `call(channel, context)`. While containerd restarts (the call could not
  // connect), it is made again on a renewed channel every 25 ms, for up to kRestartWait within
  // `deadline`: a client never sees containerd's restart unless a call was cut in flight.
  template <typename Call>
  grpc::Status run(Deadline deadline, Call call) {
    Deadline waitUntil = capped(deadline, std::chrono::duration_cast<std::chrono::milliseconds>(kRestartWait));
    for (;;) {
      auto channel = get();
      grpc::ClientContext ctx;
      prepare(ctx, ns, deadline);
      auto status = call(channel, ctx);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
      renew(channel);
      if (!neverConnected(status) || SteadyClock::now() + kRetryPause >= waitUntil) return status;
      std::this_thread::sleep_for(kRetryPause);
    }
  }

  // Throws the call's error; renews the channel first when containerd was unreachable.
  [[noreturn]] void fail(const std::string& call, const grpc::Status& status, const std::shared_ptr<grpc::Channel>& used) {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) renew(used);
    berth::bridge::fail(call, status);
  }

  void renew(const std::shared_ptr<grpc::Channel>& used) {
    std::lock_guard lock(mutex_);
    if (current_ == used) current_ = open();
  }

  const std::string ns;

 private:
  std::shared_ptr<grpc::Channel> open() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    return grpc::CreateCustomChannel("unix://" + socketPath_, grpc::InsecureChannelCredentials(), args);
  }

  std::string socketPath_;
  std::mutex mutex_;
  std::shared_ptr<grpc::Channel> current_;
};

class ContainerdClient::Containers final : public ContainerdContainers {
 public:
  explicit Containers(Channel& c) : c_(c) {}

  void create(const std::string& id, const std::string& specJson, Deadline deadline) override {
    containers::CreateContainerRequest request;
    auto* c = request.mutable_container();
    c->set_id(id);
    c->mutable_runtime()->set_name("io.containerd.runc.v2");
    c->mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Spec");
    c->mutable_spec()->set_value(specJson);
    containers::CreateContainerResponse response;
    auto status = c_.run(deadline, [&](auto& channel, auto& ctx) {
      return containers::Containers::NewStub(channel)->Create(&ctx, request, &response);
    });
    if (!status.ok()) fail("Containers.Create", status);
  }

  void remove(const std::string& id, Deadline deadline) override {
    containers::DeleteContainerRequest request;
    request.set_id(id);
    google::protobuf::Empty response;
    auto status = c_.run(deadline, [&](auto& channel, auto& ctx) {
      return containers::Containers::NewStub(channel)->Delete(&ctx, request, &response);
    });
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) fail("Containers.Delete", status);
  }

  std::vector<std::string> list(Deadline deadline) override {
    containers::ListContainersRequest request;
    containers::ListContainersResponse response;
    auto status = c_.run(deadline, [&](auto& channel, auto& ctx) {
      return containers::Containers::NewStub(channel)->List(&ctx, request, &response);
    });
    if (!status.ok()) fail("Containers.List", status);
    std::vector<std::string> ids;
    for (const auto& c : response.containers()) ids.push_back(c.id());
    return ids;
  }

 private:
  Channel& c_;
};

class ContainerdClient::Tasks final : public ContainerdTasks {
 public:
  explicit Tasks(Channel& c) : c_(c) {}

  uint32_t create(const std::string& id, const TaskStdio& stdio, const std::vector<Mount>& rootfs,
                  Deadline deadline) override {
    tasks::CreateTaskRequest request;
    request.set_container_id(id);
    for (const auto& m : rootfs) {
      auto* mount = request.add_rootfs();
      mount->set_type(m.type);
      mount->set_source(m.source);
      for (const auto& o : m.options) mount->add_options(o);
    }
    request.set_stdin(stdio.in);
    request.set_stdout(stdio.out);
    request.set_stderr(stdio.err);
    request.set_terminal(stdio.terminal);
    tasks::CreateTaskResponse response;
    invoke("Tasks.Create", deadline, [&](auto& s, auto& c) { return s.Create(&c, request, &response); });
    return response.pid();
  }

  uint32_t start(const std::string& id, const std::string& execId, Deadline deadline) override {
    tasks::StartRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    tasks::StartResponse response;
    invoke("Tasks.Start", deadline, [&](auto& s, auto& c) { return s.Start(&c, request, &response); });
    return response.pid();
  }

  void exec(const std::string& id, const std::string& execId, const std::string& processJson, const TaskStdio& stdio,
            Deadline deadline) override {
    tasks::ExecProcessRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    request.set_stdin(stdio.in);
    request.set_stdout(stdio.out);
    request.set_stderr(stdio.err);
    request.set_terminal(stdio.terminal);
    request.mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Process");
    request.mutable_spec()->set_value(processJson);
    google::protobuf::Empty response;
    invoke("Tasks.Exec", deadline, [&](auto& s, auto& c) { return s.Exec(&c, request, &response); });
  }

  void kill(const std::string& id, const std::string& execId, int signal, bool all, Deadline deadline) override {
    tasks::KillRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    request.set_signal(static_cast<uint32_t>(signal));
    request.set_all(all);
    google::protobuf::Empty response;
    invoke("Tasks.Kill", deadline, [&](auto& s, auto& c) { return s.Kill(&c, request, &response); });
  }

  void pause(const std::string& id, Deadline deadline) override {
    tasks::PauseTaskRequest request;
    request.set_container_id(id);
    google::protobuf::Empty response;
    invoke("Tasks.Pause", deadline, [&](auto& s, auto& c) { return s.Pause(&c, request, &response); });
  }

  void resume(const std::string& id, Deadline deadline) override {
    tasks::ResumeTaskRequest request;
    request.set_container_id(id);
    google::protobuf::Empty response;
    invoke("Tasks.Resume", deadline, [&](auto& s, auto& c) { return s.Resume(&c, request, &response); });
  }

  void update(const std::string& id, const nlohmann::json& resources, Deadline deadline) override {
    tasks::UpdateTaskRequest request;
    request.set_container_id(id);
    // containerd's typeurl carries non-protobuf types (the OCI structs) as JSON.
    request.mutable_resources()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
    request.mutable_resources()->set_value(resources.dump());
    google::protobuf::Empty response;
    invoke("Tasks.Update", deadline, [&](auto& s, auto& c) { return s.Update(&c, request, &response); });
  }

  void resizePty(const std::string& id, const std::string& execId, uint32_t width, uint32_t height,
                 Deadline deadline) override {
    tasks::ResizePtyRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    request.set_width(width);
    request.set_height(height);
    google::protobuf::Empty response;
    invoke("Tasks.ResizePty", deadline, [&](auto& s, auto& c) { return s.ResizePty(&c, request, &response); });
  }

  void closeStdin(const std::string& id, const std::string& execId, Deadline deadline) override {
    tasks::CloseIORequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    request.set_stdin(true);
    google::protobuf::Empty response;
    invoke("Tasks.CloseIO", deadline, [&](auto& s, auto& c) { return s.CloseIO(&c, request, &response); });
  }

  std::vector<uint32_t> pids(const std::string& id, Deadline deadline) override {
    tasks::ListPidsRequest request;
    request.set_container_id(id);
    tasks::ListPidsResponse response;
    invoke("Tasks.ListPids", deadline, [&](auto& s, auto& c) { return s.ListPids(&c, request, &response); });
    std::vector<uint32_t> out;
    for (const auto& p : response.processes()) out.push_back(p.pid());
    return out;
  }

  TaskState state(const std::string& id, const std::string& execId, Deadline deadline) override {
    TaskState st;
    try {
      tasks::GetRequest request;
      request.set_container_id(id);
      request.set_exec_id(execId);
      tasks::GetResponse response;
      auto status = c_.run(deadline, [&](auto& channel, auto& ctx) {
        return tasks::Tasks::NewStub(channel)->Get(&ctx, request, &response);
      });
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        st.answer = TaskState::Answer::absent;
        return st;
      }
      if (!status.ok()) {
        st.why = "containerd Tasks.Get: " + status.error_message();
        return st;
      }
      const auto& p = response.process();
      bool known = false;
      st.status = statusOf(p.status(), known);
      if (!known) {
        // containerd answers UNKNOWN when the shim's own state call failed or timed out.
        st.why = "containerd reports the task's status as unknown";
        return st;
      }
      st.answer = TaskState::Answer::present;
      st.pid = p.pid();
      st.exit = {p.exit_status(), nanosOf(p.exited_at())};
    } catch (const std::exception& e) {
      st.answer = TaskState::Answer::unknown;
      st.why = e.what();
    }
    return st;
  }

  std::vector<TaskListing> list(Deadline deadline) override {
    tasks::ListTasksRequest request;
    tasks::ListTasksResponse response;
    invoke("Tasks.List", deadline, [&](auto& s, auto& c) { return s.List(&c, request, &response); });
    std::vector<TaskListing> out;
    for (const auto& t : response.tasks()) {
      TaskListing l;
      l.id = t.id();
      l.pid = t.pid();
      l.status = statusOf(t.status(), l.statusKnown);
      out.push_back(l);
    }
    return out;
  }

  TaskExit wait(const std::string& id, const std::string& execId, Deadline deadline) override {
    tasks::WaitRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    tasks::WaitResponse response;
    invoke("Tasks.Wait", deadline, [&](auto& s, auto& c) { return s.Wait(&c, request, &response); });
    return {response.exit_status(), nanosOf(response.exited_at())};
  }

  std::optional<TaskExit> remove(const std::string& id, Deadline deadline) override {
    tasks::DeleteTaskRequest request;
    request.set_container_id(id);
    tasks::DeleteResponse response;
    auto status = c_.run(deadline, [&](auto& channel, auto& ctx) {
      return tasks::Tasks::NewStub(channel)->Delete(&ctx, request, &response);
    });
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
    if (!status.ok()) fail("Tasks.Delete", status);
    return TaskExit{response.exit_status(), nanosOf(response.exited_at())};
  }

  void removeProcess(const std::string& id, const std::string& execId, Deadline deadline) override {
    tasks::DeleteProcessRequest request;
    request.set_container_id(id);
    request.set_exec_id(execId);
    tasks::DeleteResponse response;
    invoke(
        "Tasks.DeleteProcess", deadline, [&](auto& s, auto& c) { return s.DeleteProcess(&c, request, &response); },
        true);
  }

  void watchExits(const std::function<void()>& onSubscribed, const std::function<void(const ExitEvent&)>& onExit,
                  const std::function<bool()>& keepGoing) override {
    namespace events = containerd::services::events::v1;
    auto channel = c_.get();
    grpc::ClientContext ctx;
    events::SubscribeRequest request;
    std::string scope = ",namespace==\"" + c_.ns + "\"";
    request.add_filters("topic==\"/tasks/exit\"" + scope);
    request.add_filters("topic==\"" + std::string(kSubscribedTopic) + "\"" + scope);
    auto reader = events::Events::NewStub(channel)->Subscribe(&ctx, request);
    // The stream gives no sign of being in place, and a call sent is not yet a subscriber: the
    // bridge publishes a mark of its own, again and again until it comes back on the stream.
    // Every exit after that comes on it. The same thread ends the call when `keepGoing` turns.
    std::string mark = randomHex(16);
    events::PublishRequest publish;
    publish.set_topic(kSubscribedTopic);
    publish.mutable_event()->set_type_url("berth.containerd-bridge/subscribed");
    publish.mutable_event()->set_value(mark);
    std::mutex mutex;
    std::condition_variable changed;
    bool done = false, marked = false;
    std::thread companion([&] {
      auto pause = std::chrono::milliseconds(10);
      std::unique_lock lock(mutex);
      while (!done && !marked && keepGoing()) {
        lock.unlock();
        google::protobuf::Empty empty;
        auto published = c_.run(deadlineIn(std::chrono::seconds(10)), [&](auto& ch, auto& c) {
          return events::Events::NewStub(ch)->Publish(&c, publish, &empty);
        });
        lock.lock();
        if (!published.ok()) break;  // the caller subscribes again
        changed.wait_for(lock, pause, [&] { return done || marked; });
        pause = std::min(pause * 2, std::chrono::milliseconds(1000));
      }
      while (!done && marked && keepGoing()) changed.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; });
      lock.unlock();
      ctx.TryCancel();
    });
    struct Join {  // also when a callback throws
      std::mutex& mutex;
      std::condition_variable& changed;
      bool& done;
      std::thread& thread;
      ~Join() {
        {
          std::lock_guard lock(mutex);
          done = true;
        }
        changed.notify_all();
        thread.join();
      }
    } join{mutex, changed, done, companion};
    events::Envelope envelope;
    containerd::events::TaskExit exit;
    while (reader->Read(&envelope)) {
      if (envelope.topic() == kSubscribedTopic) {
        bool first = false;
        if (envelope.event().value() == mark) {
          std::lock_guard lock(mutex);
          first = !marked;
          marked = true;
        }
        changed.notify_all();
        if (first) onSubscribed();
        continue;
      }
      if (!exit.ParseFromString(envelope.event().value()) || exit.container_id().empty()) continue;
      onExit({exit.container_id(), exit.id(), exit.pid(), {exit.exit_status(), nanosOf(exit.exited_at())}});
    }
    if (reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE) c_.renew(channel);
  }

  void watchOom(const std::function<void(const std::string&)>& onOom, const std::function<bool()>& keepGoing) override {
    auto channel = c_.get();
    auto stub = containerd::services::events::v1::Events::NewStub(channel);
    grpc::ClientContext ctx;
    containerd::services::events::v1::SubscribeRequest request;
    request.add_filters("topic==\"/tasks/oom\",namespace==\"" + c_.ns + "\"");
    auto reader = stub->Subscribe(&ctx, request);
    containerd::services::events::v1::Envelope envelope;
    // A reader blocks in Read: a thread checks `keepGoing` and cancels the call when it turns.
    std::atomic<bool> done{false};
    std::thread canceller([&] {
      while (!done && keepGoing()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ctx.TryCancel();
    });
    while (reader->Read(&envelope)) {
      containerd::events::TaskOOM oom;
      if (envelope.event().Is<containerd::events::TaskOOM>() || envelope.event().type_url().ends_with("TaskOOM")) {
        if (oom.ParseFromString(envelope.event().value()) && !oom.container_id().empty()) onOom(oom.container_id());
      }
    }
    done = true;
    canceller.join();
    if (reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE) c_.renew(channel);
  }

 private:
  template <typename Call>
  void invoke(const char* name, Deadline deadline, Call call, bool notFoundOk = false) {
    auto status = c_.run(deadline, [&](auto& channel, auto& ctx) { return call(*tasks::Tasks::NewStub(channel), ctx); });
    if (!status.ok() && !(notFoundOk && status.error_code() == grpc::StatusCode::NOT_FOUND)) fail(name, status);
  }

  Channel& c_;
};


ContainerdClient::ContainerdClient(const std::string& socketPath, std::string ns)
    : channel_(std::make_unique<Channel>(socketPath, std::move(ns))),
      containers_(std::make_unique<Containers>(*channel_)),
      tasks_(std::make_unique<Tasks>(*channel_)) {}

ContainerdClient::~ContainerdClient() = default;

ContainerdContainers& ContainerdClient::containers() { return *containers_; }
ContainerdTasks& ContainerdClient::tasks() { return *tasks_; }

ContainerdClient::Version ContainerdClient::version(Deadline deadline) {
  auto channel = channel_->get();
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(toSystemClock(deadline));
  google::protobuf::Empty request;
  containerd::services::version::v1::VersionResponse response;
  auto status = stub->Version(&ctx, request, &response);
  if (!status.ok()) channel_->fail("Version", status, channel);
  return {response.version(), response.revision()};
}

RuncVersion readRuncVersion() {
  RuncVersion v;
  std::unique_ptr<FILE, decltype(&pclose)> p(popen("runc --version 2>/dev/null", "r"), pclose);
  if (!p) return v;
  std::array<char, 256> line{};
  while (fgets(line.data(), line.size(), p.get())) {
    std::string s = line.data();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.rfind("runc version ", 0) == 0) v.version = s.substr(13);
    if (s.rfind("commit: ", 0) == 0) v.commit = s.substr(8);
  }
  return v;
}

}  // namespace berth::bridge
