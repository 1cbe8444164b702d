// docker exec: processes added to a running container's task. Exec records live in memory, as
// in dockerd: they describe processes of this bridge's lifetime.
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "services/containerd-bridge/container_service.h"
#include "services/containerd-bridge/oci_spec.h"

namespace berth::bridge {

using json = nlohmann::json;

std::string ContainerService::execCreate(const std::string& ref, const json& body) {
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body must be an object");
  auto record = store_.get(ref);
  if (record.state.status == "paused") {
    throw Error(ErrorKind::conflict, "Container " + record.id + " is paused, unpause the container before exec");
  }
  if (record.state.status != "running") throw Error(ErrorKind::conflict, "Container " + record.id + " is not running");
  if (stringsOf(body.value("Cmd", json())).empty()) throw Error(ErrorKind::invalid, "No exec command specified");
  for (const auto& e : stringsOf(body.value("Env", json()))) {
    if (e.empty() || e.front() == '=') throw Error(ErrorKind::invalid, "invalid environment variable: " + e);
  }
  ExecRecord exec;
  exec.id = randomHex(32);
  exec.containerId = record.id;
  exec.config = body;
  {
    std::lock_guard lock(mutex_);
    execs_[exec.id] = exec;
  }
  events_("exec_create: " + [&] {
    std::string cmd;
    for (const auto& a : stringsOf(body["Cmd"])) cmd += (cmd.empty() ? "" : " ") + a;
    return cmd;
  }(), record, {{"execID", exec.id}});
  return exec.id;
}

json ContainerService::execInspect(const std::string& execId) const {
  ExecRecord exec;
  {
    std::lock_guard lock(mutex_);
    auto it = execs_.find(execId);
    if (it == execs_.end()) throw Error(ErrorKind::notFound, "No such exec instance: " + execId);
    exec = it->second;
  }
  const auto& c = exec.config;
  auto cmd = stringsOf(c.value("Cmd", json()));
  json args = json::array();
  for (size_t i = 1; i < cmd.size(); ++i) args.push_back(cmd[i]);
  return {{"ID", exec.id},
          {"Running", exec.running},
          {"ExitCode", exec.exitCode ? json(*exec.exitCode) : json()},
          {"ProcessConfig",
           {{"tty", c.value("Tty", false)},
            {"entrypoint", cmd.empty() ? "" : cmd[0]},
            {"arguments", args},
            {"privileged", c.value("Privileged", false)},
            {"user", c.value("User", "")}}},
          {"OpenStdin", c.value("AttachStdin", false)},
          {"OpenStderr", c.value("AttachStderr", false)},
          {"OpenStdout", c.value("AttachStdout", false)},
          {"CanRemove", !exec.running && exec.started},
          {"ContainerID", exec.containerId},
          {"DetachKeys", c.value("DetachKeys", "")},
          {"Pid", exec.pid}};
}

void ContainerService::execResize(const std::string& execId, uint32_t height, uint32_t width) {
  std::string container;
  {
    std::lock_guard lock(mutex_);
    auto it = execs_.find(execId);
    if (it == execs_.end()) throw Error(ErrorKind::notFound, "No such exec instance: " + execId);
    container = it->second.containerId;
  }
  containerd_.resizePty(container, execId, width, height);
}

std::string ContainerService::execFifoBase(const std::string& execId) const {
  std::lock_guard lock(mutex_);
  auto it = execs_.find(execId);
  if (it == execs_.end()) throw Error(ErrorKind::notFound, "No such exec instance: " + execId);
  return runDirOf(it->second.containerId) + "/exec-" + execId.substr(0, 16);
}

ExecRecord ContainerService::execStart(const std::string& execId, const ExecIo* io) {
  ExecRecord exec;
  {
    std::lock_guard lock(mutex_);
    auto it = execs_.find(execId);
    if (it == execs_.end()) throw Error(ErrorKind::notFound, "No such exec instance: " + execId);
    if (it->second.started) throw Error(ErrorKind::conflict, "Exec command " + execId + " is already running");
    it->second.started = true;
    exec = it->second;
  }
  auto record = store_.get(exec.containerId);
  if (record.state.status != "running") {
    std::lock_guard lock(mutex_);
    execs_.erase(execId);
    throw Error(ErrorKind::conflict, "Container " + record.id + " is not running");
  }
  // The container's own process settings are the base, as dockerd does it.
  auto specText = readFileIfExists(store_.directoryOf(record.id) + "/spec.json");
  if (!specText) throw Error(ErrorKind::internal, "container " + record.id + " has no runtime spec");
  json spec = json::parse(*specText);
  json process = spec["process"];
  const auto& c = exec.config;
  process["args"] = stringsOf(c["Cmd"]);
  process["terminal"] = c.value("Tty", false);
  if (!c.value("WorkingDir", "").empty()) process["cwd"] = c["WorkingDir"];
  json env = process.value("env", json::array());
  for (const auto& e : stringsOf(c.value("Env", json()))) {
    std::string key = e.substr(0, e.find('='));
    for (auto it = env.begin(); it != env.end();) {
      std::string existing = *it;
      if (existing.substr(0, existing.find('=')) == key) it = env.erase(it);
      else ++it;
    }
    env.push_back(e);
  }
  process["env"] = env;
  if (!c.value("User", "").empty()) {
    auto user = resolveUser(spec["root"]["path"], c["User"], {});
    process["user"] = {{"uid", user.uid}, {"gid", user.gid}};
    if (!user.additionalGids.empty()) process["user"]["additionalGids"] = user.additionalGids;
  }
  if (c.value("Privileged", false)) {
    json all = process["capabilities"]["bounding"];
    process["capabilities"] = {{"bounding", all}, {"effective", all}, {"permitted", all}};
  }
  ContainerdClient::Stdio stdio;
  if (io) {
    stdio.in = io->stdinFifo;
    stdio.out = io->stdoutFifo;
    stdio.err = io->stderrFifo;
    stdio.terminal = io->tty;
  }
  try {
    containerd_.exec(record.id, execId, process.dump(), stdio);
    exec.pid = static_cast<int>(containerd_.startProcess(record.id, execId));
  } catch (const Error& e) {
    std::string message = e.what();
    {
      std::lock_guard lock(mutex_);
      auto it = execs_.find(execId);
      if (it != execs_.end()) {
        it->second.exitCode = message.find("no such file") != std::string::npos ||
                                      message.find("executable file not found") != std::string::npos
                                  ? 127
                                  : 126;
      }
    }
    try {
      containerd_.deleteProcess(record.id, execId);
    } catch (const Error&) {
    }
    throw Error(e.kind() == ErrorKind::unavailable ? ErrorKind::unavailable : ErrorKind::invalid, message);
  }
  {
    std::lock_guard lock(mutex_);
    auto& stored = execs_[execId];
    stored.running = true;
    stored.pid = exec.pid;
    exec = stored;
  }
  std::string cmd;
  for (const auto& a : stringsOf(c["Cmd"])) cmd += (cmd.empty() ? "" : " ") + a;
  events_("exec_start: " + cmd, record, {{"execID", execId}});
  return exec;
}

int ContainerService::execFinish(const std::string& execId) {
  std::string container;
  {
    std::lock_guard lock(mutex_);
    auto it = execs_.find(execId);
    if (it == execs_.end()) return -1;
    container = it->second.containerId;
  }
  int code = 255;
  try {
    code = static_cast<int>(containerd_.wait(container, execId, std::chrono::hours(24 * 365)).status);
  } catch (const Error& e) {
    spdlog::warn("containers: waiting for exec {}: {}", execId.substr(0, 12), e.what());
  }
  try {
    containerd_.deleteProcess(container, execId);
  } catch (const Error&) {
  }
  {
    std::lock_guard lock(mutex_);
    auto it = execs_.find(execId);
    if (it != execs_.end()) {
      it->second.running = false;
      it->second.exitCode = code;
    }
  }
  try {
    events_("exec_die", store_.get(container), {{"execID", execId}, {"exitCode", std::to_string(code)}});
  } catch (const Error&) {
  }
  return code;
}

}  // namespace berth::bridge
