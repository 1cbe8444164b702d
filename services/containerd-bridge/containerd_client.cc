#include "services/containerd-bridge/containerd_client.h"

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <thread>
#include <cstdio>
#include <memory>

#include "common/errors.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace berth::bridge {
namespace {

[[noreturn]] void fail(const std::string& call, const grpc::Status& status) {
  ErrorKind kind = ErrorKind::internal;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: kind = ErrorKind::unavailable; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: kind = ErrorKind::deadlineExceeded; break;
    case grpc::StatusCode::NOT_FOUND: kind = ErrorKind::notFound; break;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION: kind = ErrorKind::conflict; break;
    case grpc::StatusCode::INVALID_ARGUMENT: kind = ErrorKind::invalid; break;
    default: break;
  }
  throw Error(kind, "containerd " + call + ": " + status.error_message());
}

}  // namespace

ContainerdClient::ContainerdClient(const std::string& socketPath, std::string ns)
    : channel_(grpc::CreateChannel("unix://" + socketPath, grpc::InsecureChannelCredentials())),
      namespace_(std::move(ns)) {}

ContainerdClient::Version ContainerdClient::version(std::chrono::milliseconds timeout) {
  auto stub = containerd::services::version::v1::Version::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  google::protobuf::Empty request;
  containerd::services::version::v1::VersionResponse response;
  auto status = stub->Version(&ctx, request, &response);
  if (!status.ok()) fail("Version", status);
  return {response.version(), response.revision()};
}

namespace {

void prepare(grpc::ClientContext& ctx, const std::string& ns, std::chrono::milliseconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  ctx.AddMetadata("containerd-namespace", ns);
}

}  // namespace

void ContainerdClient::createContainer(const std::string& id, const std::string& specJson) {
  auto stub = containerd::services::containers::v1::Containers::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(10));
  containerd::services::containers::v1::CreateContainerRequest request;
  auto* c = request.mutable_container();
  c->set_id(id);
  c->mutable_runtime()->set_name("io.containerd.runc.v2");
  c->mutable_spec()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/Spec");
  c->mutable_spec()->set_value(specJson);
  containerd::services::containers::v1::CreateContainerResponse response;
  auto status = stub->Create(&ctx, request, &response);
  if (!status.ok()) fail("Containers.Create", status);
}

uint32_t ContainerdClient::startTask(const std::string& id, const std::vector<Mount>& rootfs, const std::string& logUri) {
  auto stub = containerd::services::tasks::v1::Tasks::NewStub(channel_);
  {
    grpc::ClientContext ctx;
    prepare(ctx, namespace_, std::chrono::seconds(30));
    containerd::services::tasks::v1::CreateTaskRequest request;
    request.set_container_id(id);
    for (const auto& m : rootfs) {
      auto* mount = request.add_rootfs();
      mount->set_type(m.type);
      mount->set_source(m.source);
      for (const auto& o : m.options) mount->add_options(o);
    }
    request.set_stdout(logUri);
    request.set_stderr(logUri);
    containerd::services::tasks::v1::CreateTaskResponse response;
    auto status = stub->Create(&ctx, request, &response);
    if (!status.ok()) fail("Tasks.Create", status);
  }
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(30));
  containerd::services::tasks::v1::StartRequest request;
  request.set_container_id(id);
  containerd::services::tasks::v1::StartResponse response;
  auto status = stub->Start(&ctx, request, &response);
  if (!status.ok()) fail("Tasks.Start", status);
  return response.pid();
}

uint32_t ContainerdClient::waitTask(const std::string& id, std::chrono::milliseconds timeout) {
  auto stub = containerd::services::tasks::v1::Tasks::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, timeout);
  containerd::services::tasks::v1::WaitRequest request;
  request.set_container_id(id);
  containerd::services::tasks::v1::WaitResponse response;
  auto status = stub->Wait(&ctx, request, &response);
  if (!status.ok()) fail("Tasks.Wait", status);
  return response.exit_status();
}

void ContainerdClient::deleteContainer(const std::string& id) {
  {
    auto stub = containerd::services::tasks::v1::Tasks::NewStub(channel_);
    grpc::ClientContext ctx;
    prepare(ctx, namespace_, std::chrono::seconds(30));
    containerd::services::tasks::v1::DeleteTaskRequest request;
    request.set_container_id(id);
    containerd::services::tasks::v1::DeleteResponse response;
    auto status = stub->Delete(&ctx, request, &response);
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) fail("Tasks.Delete", status);
  }
  auto stub = containerd::services::containers::v1::Containers::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(10));
  containerd::services::containers::v1::DeleteContainerRequest request;
  request.set_id(id);
  google::protobuf::Empty response;
  auto status = stub->Delete(&ctx, request, &response);
  if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) fail("Containers.Delete", status);
}

namespace tasks = containerd::services::tasks::v1;

namespace {

template <typename Call>
void invoke(const std::shared_ptr<grpc::Channel>& channel, const std::string& ns, const char* name,
            std::chrono::milliseconds timeout, Call call, bool notFoundOk = false) {
  auto stub = tasks::Tasks::NewStub(channel);
  grpc::ClientContext ctx;
  prepare(ctx, ns, timeout);
  auto status = call(*stub, ctx);
  if (!status.ok() && !(notFoundOk && status.error_code() == grpc::StatusCode::NOT_FOUND)) fail(name, status);
}

int64_t nanosOf(const google::protobuf::Timestamp& t) { return t.seconds() * 1000000000 + t.nanos(); }

constexpr auto kCallTimeout = std::chrono::seconds(30);

}  // namespace

uint32_t ContainerdClient::createTask(const std::string& id, const Stdio& stdio) {
  tasks::CreateTaskRequest request;
  request.set_container_id(id);
  request.set_stdin(stdio.in);
  request.set_stdout(stdio.out);
  request.set_stderr(stdio.err);
  request.set_terminal(stdio.terminal);
  tasks::CreateTaskResponse response;
  invoke(channel_, namespace_, "Tasks.Create", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Create(&c, request, &response); });
  return response.pid();
}

uint32_t ContainerdClient::startProcess(const std::string& id, const std::string& execId) {
  tasks::StartRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  tasks::StartResponse response;
  invoke(channel_, namespace_, "Tasks.Start", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Start(&c, request, &response); });
  return response.pid();
}

void ContainerdClient::exec(const std::string& id, const std::string& execId, const std::string& processJson,
                            const Stdio& stdio) {
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
  invoke(channel_, namespace_, "Tasks.Exec", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Exec(&c, request, &response); });
}

void ContainerdClient::kill(const std::string& id, const std::string& execId, int signal, bool all) {
  tasks::KillRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  request.set_signal(static_cast<uint32_t>(signal));
  request.set_all(all);
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.Kill", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Kill(&c, request, &response); });
}

void ContainerdClient::pause(const std::string& id) {
  tasks::PauseTaskRequest request;
  request.set_container_id(id);
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.Pause", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Pause(&c, request, &response); });
}

void ContainerdClient::watchOom(const std::function<void(const std::string&)>& onOom,
                                const std::function<bool()>& keepGoing) {
  auto stub = containerd::services::events::v1::Events::NewStub(channel_);
  grpc::ClientContext ctx;
  containerd::services::events::v1::SubscribeRequest request;
  request.add_filters("topic==\"/tasks/oom\",namespace==\"" + namespace_ + "\"");
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
  reader->Finish();
}

void ContainerdClient::updateResources(const std::string& id, const nlohmann::json& resources) {
  tasks::UpdateTaskRequest request;
  request.set_container_id(id);
  // containerd's typeurl carries non-protobuf types (the OCI structs) as JSON.
  request.mutable_resources()->set_type_url("types.containerd.io/opencontainers/runtime-spec/1/LinuxResources");
  request.mutable_resources()->set_value(resources.dump());
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.Update", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Update(&c, request, &response); });
}

void ContainerdClient::resume(const std::string& id) {
  tasks::ResumeTaskRequest request;
  request.set_container_id(id);
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.Resume", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Resume(&c, request, &response); });
}

void ContainerdClient::resizePty(const std::string& id, const std::string& execId, uint32_t width, uint32_t height) {
  tasks::ResizePtyRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  request.set_width(width);
  request.set_height(height);
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.ResizePty", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.ResizePty(&c, request, &response); });
}

void ContainerdClient::closeStdin(const std::string& id, const std::string& execId) {
  tasks::CloseIORequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  request.set_stdin(true);
  google::protobuf::Empty response;
  invoke(channel_, namespace_, "Tasks.CloseIO", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.CloseIO(&c, request, &response); });
}

std::vector<uint32_t> ContainerdClient::listPids(const std::string& id) {
  tasks::ListPidsRequest request;
  request.set_container_id(id);
  tasks::ListPidsResponse response;
  invoke(channel_, namespace_, "Tasks.ListPids", kCallTimeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.ListPids(&c, request, &response); });
  std::vector<uint32_t> pids;
  for (const auto& p : response.processes()) pids.push_back(p.pid());
  return pids;
}

std::optional<ContainerdClient::TaskInfo> ContainerdClient::task(const std::string& id, const std::string& execId) {
  auto stub = tasks::Tasks::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(10));
  tasks::GetRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  tasks::GetResponse response;
  auto status = stub->Get(&ctx, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) fail("Tasks.Get", status);
  TaskInfo info;
  const auto& p = response.process();
  info.pid = p.pid();
  info.exitStatus = p.exit_status();
  info.exitedAtNanos = nanosOf(p.exited_at());
  switch (p.status()) {
    case containerd::v1::types::CREATED: info.status = TaskStatus::created; break;
    case containerd::v1::types::RUNNING: info.status = TaskStatus::running; break;
    case containerd::v1::types::STOPPED: info.status = TaskStatus::stopped; break;
    case containerd::v1::types::PAUSED: info.status = TaskStatus::paused; break;
    case containerd::v1::types::PAUSING: info.status = TaskStatus::pausing; break;
    default: break;
  }
  return info;
}

ContainerdClient::Exit ContainerdClient::wait(const std::string& id, const std::string& execId,
                                              std::chrono::milliseconds timeout) {
  tasks::WaitRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  tasks::WaitResponse response;
  invoke(channel_, namespace_, "Tasks.Wait", timeout,
         [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.Wait(&c, request, &response); });
  return {response.exit_status(), nanosOf(response.exited_at())};
}

std::optional<ContainerdClient::Exit> ContainerdClient::deleteTask(const std::string& id) {
  auto stub = tasks::Tasks::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(30));
  tasks::DeleteTaskRequest request;
  request.set_container_id(id);
  tasks::DeleteResponse response;
  auto status = stub->Delete(&ctx, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) fail("Tasks.Delete", status);
  return Exit{response.exit_status(), nanosOf(response.exited_at())};
}

void ContainerdClient::deleteProcess(const std::string& id, const std::string& execId) {
  tasks::DeleteProcessRequest request;
  request.set_container_id(id);
  request.set_exec_id(execId);
  tasks::DeleteResponse response;
  invoke(
      channel_, namespace_, "Tasks.DeleteProcess", kCallTimeout,
      [&](tasks::Tasks::Stub& s, grpc::ClientContext& c) { return s.DeleteProcess(&c, request, &response); }, true);
}

void ContainerdClient::deleteContainerRecord(const std::string& id) {
  auto stub = containerd::services::containers::v1::Containers::NewStub(channel_);
  grpc::ClientContext ctx;
  prepare(ctx, namespace_, std::chrono::seconds(10));
  containerd::services::containers::v1::DeleteContainerRequest request;
  request.set_id(id);
  google::protobuf::Empty response;
  auto status = stub->Delete(&ctx, request, &response);
  if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) fail("Containers.Delete", status);
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
