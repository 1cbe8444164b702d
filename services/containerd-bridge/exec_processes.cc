#include "services/containerd-bridge/exec_processes.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <thread>
#include <utility>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/oci_spec.h"
#include "services/containerd-bridge/request_types.h"
#include "common/json_text.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string commandLine(const json& config) {
  std::string cmd;
  for (const auto& a : stringsOf(config.value("Cmd", json()))) cmd += (cmd.empty() ? "" : " ") + a;
  return cmd;
}

// The exit code dockerd records for an exec that could not start.
// dockerd 20.10 records 126 for every exec that could not start (a missing command, a path that
// is a directory, a permission), unlike a container's start.
constexpr int kStartFailureCode = 126;

// The runtime's own words, as dockerd passes them on ("OCI runtime exec failed: …"), without
// the name of the containerd call that carried them.
std::string runtimeMessage(const std::string& message) {
  auto at = message.find("OCI runtime exec failed");
  return at == std::string::npos ? message : message.substr(at);
}

}  // namespace

ExecRecord ExecProcesses::find(const std::string& execId) const {
  std::lock_guard lock(mutex_);
  auto it = execs_.find(execId);
  if (it == execs_.end()) throw Error(ErrorKind::notFound, "No such exec instance: " + execId);
  return it->second;
}

std::string ExecProcesses::create(const std::string& ref, const json& body) {
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body must be an object");
  // dockerd decodes the body into ExecConfig and refuses a field of the wrong type with a 400
  // and encoding/json's words (seen on the reference engine for "Detach":"yes").
  checkExecBodyTypes(body);
  auto record = store_.get(ref);
  admit(Operation::exec, record.state.status, {record.id, record.name, ref});
  json config = normaliseStringLists(body);
  if (stringsOf(config.value("Cmd", json())).empty()) throw Error(ErrorKind::invalid, "No exec command specified");
  for (const auto& e : stringsOf(config.value("Env", json()))) {
    if (e.empty() || e.front() == '=') throw Error(ErrorKind::invalid, "invalid environment variable: " + e);
  }
  ExecRecord exec;
  exec.id = randomHex(32);
  exec.containerId = record.id;
  exec.config = config;
  {
    std::lock_guard lock(mutex_);
    exec.sequence = ++nextSequence_;
    execs_[exec.id] = exec;
    // A container keeps its newest finished execs for inspect, not every one it ever ran: a
    // health check or a client execing in a loop would otherwise grow the bridge without end.
    std::vector<std::map<std::string, ExecRecord>::iterator> finished;
    for (auto it = execs_.begin(); it != execs_.end(); ++it) {
      if (it->second.containerId == record.id && it->second.exitCode && !it->second.running) finished.push_back(it);
    }
    if (finished.size() > kKeptFinishedExecs) {
      std::sort(finished.begin(), finished.end(),
                [](const auto& a, const auto& b) { return a->second.sequence < b->second.sequence; });
      for (size_t i = 0; i < finished.size() - kKeptFinishedExecs; ++i) execs_.erase(finished[i]);
    }
  }
  if (onChange_) onChange_(record.id);  // before the event, whose stamp must cover the new id
  events_("exec_create: " + commandLine(config), record, {{"execID", exec.id}});
  return exec.id;
}

json ExecProcesses::inspect(const std::string& execId) const {
  ExecRecord exec = find(execId);
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

void ExecProcesses::resize(const std::string& execId, uint32_t height, uint32_t width, Deadline deadline) {
  tasks_.resizePty(find(execId).containerId, execId, width, height, deadline);
}

std::string ExecProcesses::fifoBase(const std::string& execId) const {
  // The whole id: a bridge restarted after this one died deletes the process it names.
  return paths_.runDirOf(find(execId).containerId) + "/exec-" + execId;
}

json ExecProcesses::idsOf(const std::string& containerId) const {
  json ids = json();
  std::lock_guard lock(mutex_);
  for (const auto& [id, e] : execs_) {
    if (e.containerId != containerId) continue;
    if (ids.is_null()) ids = json::array();
    ids.push_back(id);
  }
  return ids;
}

void ExecProcesses::forgetContainer(const std::string& containerId) {
  {
    std::lock_guard lock(mutex_);
    for (auto it = execs_.begin(); it != execs_.end();) {
      if (it->second.containerId == containerId) it = execs_.erase(it);
      else ++it;
    }
  }
  if (onChange_) onChange_(containerId);
}

ExecRecord ExecProcesses::start(const std::string& execId, ExecIo* io, Deadline deadline) {
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
  try {
    admit(Operation::exec, record.state.status, {record.id, record.name, record.id});
  } catch (const Error&) {
    std::lock_guard lock(mutex_);
    execs_.erase(execId);
    throw;
  }
  // The container's own process settings are the base, as dockerd does it.
  auto specText = readFileIfExists(store_.directoryOf(record.id) + "/spec.json");
  if (!specText) throw Error(ErrorKind::internal, "container " + record.id + " has no runtime spec");
  json spec = parseJson(*specText);
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
  TaskStdio stdio;
  if (io) {
    stdio.in = io->stdinFifo;
    stdio.out = io->stdoutFifo;
    stdio.err = io->stderrFifo;
    stdio.terminal = io->tty;
  }
  reaper_.track(record.id, execId);
  try {
    tasks_.exec(record.id, execId, process.dump(), stdio, capped(deadline, 30s));
    exec.pid = static_cast<int>(tasks_.start(record.id, execId, capped(deadline, 30s)));
  } catch (const Error& e) {
    std::string message = runtimeMessage(e.what());
    {
      std::lock_guard lock(mutex_);
      auto it = execs_.find(execId);
      if (it != execs_.end()) it->second.exitCode = kStartFailureCode;
    }
    // The shim may still be opening the fifos: they go with the process (ExecReaper).
    std::vector<std::string> fifos;
    if (io) {
      for (std::string* fifo : {&io->stdinFifo, &io->stdoutFifo, &io->stderrFifo}) {
        if (!fifo->empty()) fifos.push_back(std::exchange(*fifo, {}));
      }
    }
    reaper_.abandon(record.id, execId, std::move(fifos));
    throw Error(e.kind() == ErrorKind::unavailable ? ErrorKind::unavailable : ErrorKind::invalid, message);
  }
  {
    std::lock_guard lock(mutex_);
    auto& stored = execs_[execId];
    stored.running = true;
    stored.pid = exec.pid;
    exec = stored;
  }
  events_("exec_start: " + commandLine(c), record, {{"execID", execId}});
  return exec;
}

int ExecProcesses::finish(const std::string& execId) {
  std::string container;
  try {
    container = find(execId).containerId;
  } catch (const Error&) {
    return -1;
  }
  int code = 255;
  // A wait cut by containerd's restart is made again (waiting is idempotent): taken for an end,
  // it reported 255 for an exec that had exited 0, and left the process undeleted in its shim.
  for (int attempt = 1;; ++attempt) {
    try {
      code = static_cast<int>(tasks_.wait(container, execId, deadlineIn(std::chrono::hours(24 * 365))).status);
      break;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::unavailable || attempt == 100) {
        spdlog::warn("containers: waiting for exec {}: {}", execId.substr(0, 12), e.what());
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  reaper_.remove(container, execId);
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
