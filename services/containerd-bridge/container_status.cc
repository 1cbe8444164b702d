#include "services/containerd-bridge/container_status.h"

#include <array>

#include "common/errors.h"

namespace berth::bridge {
namespace {

using S = ContainerStatus;

constexpr std::array<std::pair<S, std::string_view>, 7> kNames = {{
    {S::created, "created"},
    {S::running, "running"},
    {S::paused, "paused"},
    {S::restarting, "restarting"},
    {S::removing, "removing"},
    {S::exited, "exited"},
    {S::dead, "dead"},
}};

[[noreturn]] void refuse(const std::string& message) { throw Error(ErrorKind::conflict, message); }

std::string notRunning(const Subject& s) { return "Container " + s.id + " is not running"; }
std::string isRestarting(const Subject& s) { return "Container " + s.id + " is restarting, wait until the container is running"; }

}  // namespace

std::string_view statusName(ContainerStatus status) {
  for (const auto& [s, name] : kNames) {
    if (s == status) return name;
  }
  return "created";
}

ContainerStatus parseStatus(std::string_view name) {
  for (const auto& [s, n] : kNames) {
    if (n == name) return s;
  }
  throw Error(ErrorKind::invalid, "unknown container status \"" + std::string(name) + "\"");
}

StateFlags flagsOf(ContainerStatus status) {
  StateFlags f;
  f.running = status == S::running || status == S::paused || status == S::restarting;
  f.paused = status == S::paused;
  f.restarting = status == S::restarting;
  f.dead = status == S::dead;
  return f;
}

bool hasLiveTask(ContainerStatus status) { return status == S::running || status == S::paused; }

// The admission table. Each case lists the statuses that let the operation proceed (or find it
// already done) and gives dockerd's refusal for the rest.
Verdict admit(Operation op, ContainerStatus status, const Subject& subject) {
  switch (op) {
    case Operation::start:
      if (status == S::created || status == S::exited) return Verdict::proceed;
      if (status == S::running || status == S::restarting) return Verdict::alreadyDone;  // dockerd: Running, 304
      if (status == S::paused) refuse("cannot start a paused container, try unpause instead");
      refuse("container is marked for removal and cannot be started");  // removing, dead

    case Operation::stop:
      if (status == S::running || status == S::paused || status == S::restarting) return Verdict::proceed;
      return Verdict::alreadyDone;  // 304

    case Operation::kill:
      // A restarting container has no task: the kill is a stop the restart policy honours.
      if (status == S::running || status == S::paused || status == S::restarting) return Verdict::proceed;
      refuse("Cannot kill container: " + subject.ref + ": " + notRunning(subject));

    case Operation::pause:
      if (status == S::running) return Verdict::proceed;
      if (status == S::paused) refuse("Container " + subject.id + " is already paused");
      if (status == S::restarting) refuse(isRestarting(subject));
      refuse(notRunning(subject));

    case Operation::unpause:
      if (status == S::paused) return Verdict::proceed;
      refuse("Container " + subject.id + " is not paused");

    case Operation::remove:
      if (status == S::created || status == S::exited || status == S::dead) return Verdict::proceed;
      if (status == S::removing) refuse("removal of container " + subject.ref + " is already in progress");
      refuse("cannot remove container \"" + subject.name + "\": container is " + std::string(statusName(status)) +
             ": stop the container before removing or force remove");

    case Operation::removeForce:
      if (status == S::removing) refuse("removal of container " + subject.ref + " is already in progress");
      return Verdict::proceed;

    case Operation::exec:
      if (status == S::running) return Verdict::proceed;
      // dockerd names the container as the client did here, and by id in the other messages.
      if (status == S::paused) refuse("Container " + subject.ref + " is paused, unpause the container before exec");
      if (status == S::restarting) refuse(isRestarting(subject));
      refuse(notRunning(subject));

    case Operation::resize:
      if (hasLiveTask(status)) return Verdict::proceed;
      refuse(notRunning(subject));

    case Operation::top:
      if (hasLiveTask(status)) return Verdict::proceed;
      if (status == S::restarting) refuse(isRestarting(subject));
      refuse(notRunning(subject));

    case Operation::update:
      if (status == S::removing || status == S::dead) {
        refuse("Container " + subject.id + " is marked for removal and cannot be \"update\"");
      }
      return Verdict::proceed;

    case Operation::copy:
      if (status == S::removing) {
        refuse("You cannot copy files of container " + subject.id + " while its removal is in progress");
      }
      return Verdict::proceed;
  }
  throw Error(ErrorKind::internal, "unknown container operation");
}

// The transition table: for each event, the statuses it applies to and the status it leads to.
std::optional<ContainerStatus> next(ContainerStatus from, LifecycleEvent event, bool hasBeenStarted) {
  auto from_ = [&](std::initializer_list<S> states) {
    for (S s : states) {
      if (s == from) return true;
    }
    return false;
  };
  switch (event) {
    case LifecycleEvent::taskStarted:
      if (from_({S::created, S::exited, S::restarting})) return S::running;
      return std::nullopt;
    case LifecycleEvent::startFailed:
      if (from_({S::created, S::exited, S::restarting})) return hasBeenStarted ? S::exited : S::created;
      return std::nullopt;
    case LifecycleEvent::paused:
      if (from == S::running) return S::paused;
      return std::nullopt;
    case LifecycleEvent::unpaused:
      if (from == S::paused) return S::running;
      return std::nullopt;
    case LifecycleEvent::exited:
      if (hasLiveTask(from)) return S::exited;
      return std::nullopt;
    case LifecycleEvent::exitedToRestart:
      if (hasLiveTask(from)) return S::restarting;
      return std::nullopt;
    case LifecycleEvent::restartAbandoned:
      if (from == S::restarting) return S::exited;
      return std::nullopt;
    case LifecycleEvent::removalBegun:
      if (from_({S::created, S::exited, S::dead, S::restarting})) return S::removing;
      return std::nullopt;
    case LifecycleEvent::removalFailed:
      if (from == S::removing) return S::dead;
      return std::nullopt;
    case LifecycleEvent::removalInterrupted:
      if (from == S::removing) return S::dead;
      return std::nullopt;
    case LifecycleEvent::reattachedRunning:
      if (hasLiveTask(from)) return S::running;
      return std::nullopt;
    case LifecycleEvent::reattachedPaused:
      if (hasLiveTask(from)) return S::paused;
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace berth::bridge
