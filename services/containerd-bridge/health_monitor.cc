#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include "common/errors.h"
#include "common/files.h"
#include "common/go_json_types.h"
#include "common/random.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/health_monitor.h"
#include "common/json_text.h"

namespace berth::bridge {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxOutput = 4096;  // dockerd keeps this much of a probe's output
constexpr size_t kMaxLog = 5;        // and this many results

std::chrono::nanoseconds durationOr(const json& hc, const char* key, std::chrono::nanoseconds fallback) {
  int64_t n = hc.is_object() ? int64Of(hc.value(key, json())).value_or(0) : 0;
  return n > 0 ? std::chrono::nanoseconds(n) : fallback;
}

}  // namespace

void HealthMonitor::watch(const ContainerRecord& record) {
  if (!hasHealthCheck(record.config)) return;
  std::string id = record.id;
  int64_t exits = record.exits;
  scheduler_.run([this, id, exits] { monitor(id, exits); });
}

void HealthMonitor::monitor(const std::string& id, int64_t startedExits) {
  ContainerRecord record;
  try {
    record = store_.get(id);
  } catch (const Error&) {
    return;
  }
  auto command = healthProbeCommand(record.config);
  if (command.empty()) return;
  const json hc = record.config["Healthcheck"];
  auto interval = durationOr(hc, "Interval", 30s), timeout = durationOr(hc, "Timeout", 30s);
  auto startPeriod = durationOr(hc, "StartPeriod", 0s);
  // The image's health check comes unchecked from its config: no get<int> of a float.
  int retries = static_cast<int>(int64Within(hc.value("Retries", json()), 0, INT_MAX, 0));
  if (retries == 0) retries = 3;
  auto startedAt = std::chrono::steady_clock::now();

  for (;;) {
    // Sleeps the interval, and ends as soon as this run of the container does.
    if (exits_.exitAfter(id, startedExits, std::chrono::duration_cast<std::chrono::milliseconds>(interval))) return;
    try {
      record = store_.get(id);
    } catch (const Error&) {
      return;
    }
    if (record.exits != startedExits || record.state.status != ContainerStatus::running) {
      if (record.state.status == ContainerStatus::paused) continue;  // dockerd does not probe a paused container
      return;
    }
    auto result = runProbe(record, command, timeout);
    bool inStartPeriod = std::chrono::steady_clock::now() - startedAt < startPeriod;
    std::string before, after;
    record = store_.update(id, [&](ContainerRecord& r) {
      if (r.exits != startedExits) return;
      json health = r.state.health.is_object() ? r.state.health : json{{"Status", "starting"}, {"FailingStreak", 0}};
      before = health.value("Status", "starting");
      json log = health.value("Log", json::array());
      log.push_back(result);
      while (log.size() > kMaxLog) log.erase(log.begin());
      health["Log"] = log;
      if (result.value("ExitCode", -1) == 0) {
        health["Status"] = "healthy";
        health["FailingStreak"] = 0;
      } else if (!inStartPeriod || before == "healthy") {
        int streak = health.value("FailingStreak", 0) + 1;
        health["FailingStreak"] = streak;
        if (streak >= retries) health["Status"] = "unhealthy";
      }
      after = health["Status"];
      r.state.health = health;
    });
    if (!after.empty() && after != before) events_("health_status: " + after, record, {});
  }
}

// One probe: an exec of `command` with the container's process settings, its output (stdout and
// stderr together, the first 4 KiB) read from a fifo, killed after `timeout`.
json HealthMonitor::runProbe(const ContainerRecord& record, const std::vector<std::string>& command,
                             std::chrono::nanoseconds timeout) {
  json result = {{"Start", rfc3339Nano(nowUnixNanos())}, {"ExitCode", -1}, {"Output", ""}};
  std::string execId = randomHex(16);
  std::string fifo = paths_.runDirOf(record.id) + "/health-" + execId;
  auto finish = [&](int code, const std::string& output) {
    result["End"] = rfc3339Nano(nowUnixNanos());
    result["ExitCode"] = code;
    result["Output"] = output;
    if (!fifo.empty()) ::unlink(fifo.c_str());
    return result;
  };
  auto specText = readFileIfExists(store_.directoryOf(record.id) + "/spec.json");
  if (!specText) return finish(-1, "container has no runtime spec");
  json process = parseJson(*specText)["process"];
  process["args"] = command;
  process["terminal"] = false;
  if (::mkfifo(fifo.c_str(), 0600) != 0) return finish(-1, std::string("mkfifo: ") + std::strerror(errno));
  // Opened read-write first so the shim's open for writing never blocks; then nobody else writes.
  int reader = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (reader < 0) return finish(-1, std::string("open fifo: ") + std::strerror(errno));
  TaskStdio stdio;
  stdio.out = fifo;
  stdio.err = fifo;
  reaper_.track(record.id, execId);
  try {
    tasks_.exec(record.id, execId, process.dump(), stdio, deadlineIn(30s));
    tasks_.start(record.id, execId, deadlineIn(30s));
  } catch (const Error& e) {
    // The shim may still be opening the fifo: it goes with the process (ExecReaper), which
    // holds it before this reader goes.
    reaper_.abandon(record.id, execId, {std::exchange(fifo, {})});
    ::close(reader);
    std::string message = e.what();
    bool missing = message.find("no such file") != std::string::npos || message.find("not found") != std::string::npos;
    return finish(missing ? 127 : 126, message);
  }

  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string output;
  std::atomic<bool> exited{false}, waited{false};
  std::atomic<int> code{-1};
  std::thread waiter([&] {
    try {
      auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + 5s;
      code = static_cast<int>(tasks_.wait(record.id, execId, deadlineIn(budget)).status);
      waited = true;
    } catch (const Error&) {
    }
    exited = true;
  });
  bool timedOut = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{reader, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    char buf[4096];
    if (ready > 0) {
      ssize_t n = ::read(reader, buf, sizeof buf);
      if (n > 0 && output.size() < kMaxOutput) output.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - output.size()));
    }
    // The process has exited once the wait returned; then drain what is left in the fifo.
    if (ready <= 0 && exited) break;
  }
  auto killProbe = [&] {
    try {
      tasks_.kill(record.id, execId, SIGKILL, false, deadlineIn(10s));
    } catch (const Error&) {
    }
  };
  if (timedOut) killProbe();  // which ends the wait
  waiter.join();
  // A probe whose end the wait did not bring (containerd restarted under it) is killed too, so
  // the reaper's deletion does not wait for it.
  if (!timedOut && !waited) killProbe();
  ::close(reader);
  reaper_.remove(record.id, execId);
  if (timedOut) {
    // Go's rendering of the duration, as in dockerd's message.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    std::string text = ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
    return finish(-1, "Health check exceeded timeout (" + text + ")");
  }
  return finish(code, output);
}

}  // namespace berth::bridge
