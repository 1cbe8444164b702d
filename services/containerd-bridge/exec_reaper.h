// Every exec process (docker exec, a health probe) is deleted from its shim once it has ended,
// whatever is killed in between: the bridge, containerd, the client. Until it is deleted a shim
// keeps an exited process's state and its stdio pipes for the container's whole life.
//
// A process is recorded by a marker in its container's run directory (on the exec root's
// tmpfs: it outlives the bridge, as the shim does, and not the machine) from before Tasks.Exec
// until Tasks.DeleteProcess has succeeded. A deletion containerd does not answer is made again
// in the background; a restarted bridge reaps what the markers name: waits for each process's
// end, then deletes it. (Before, the only trace was the exec's fifos, which went when the
// stream ended, deleted or not, and at a restore before the deletion was known to have
// happened; a process still running then was left in its shim for good.)
//
// The fifos of a start that failed or was cut are the reaper's too. containerd's shim opens an
// exec's fifos one after another (pkg/process copyPipes: stdout for writing, which waits for a
// reader, then for reading, then stderr's), each after checking that the file exists, and
// returns at the first error with the ends it had opened still open: the process's deletion
// does not close them, so they stay in the shim for the container's life. A fifo removed while
// a start may still be under way did that (a bridge that saw its Tasks.Start fail, or a
// restarted one releasing a dead bridge's fifos). So such fifos stay on disk until the process
// is deleted (the shim's deletion waits for its start to end), each held open read-write
// meanwhile, so that none of the shim's opens waits for a partner; while one waits, the shim
// answers no state for the container. (A process the reaper gives up on leaves its fifos, no
// longer held, to the next restore with its marker.)
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/containerd-bridge/container_types.h"
#include "services/containerd-bridge/containerd.h"
#include "services/containerd-bridge/host_ops.h"

namespace berth::bridge {

class ExecReaper {
 public:
  // How long a deletion (or a wait for the process's end) is made again while it fails
  // (containerd restarting, a shim's call cut) before the marker is left to the next restore.
  static constexpr std::chrono::seconds kPatience{60};

  ExecReaper(ContainerdTasks& tasks, Scheduler& scheduler, const ServicePaths& paths)
      : tasks_(tasks), scheduler_(scheduler), paths_(paths) {}

  // Before Tasks.Exec: the process is this bridge's to delete from now on.
  void track(const std::string& container, const std::string& execId);
  // Deletes a process that should have ended (one attempt here, the rest in the background) and
  // then forgets its marker. One that still runs (its wait was cut) is deleted when it ends.
  void remove(const std::string& container, const std::string& execId);
  // A process whose start failed or was cut after containerd was asked for it: its client was
  // told it did not start, so one that runs after all (the shim finished the start) is killed,
  // then deleted; `fifos`, its stdio, are held from now on and removed once it is deleted.
  void abandon(const std::string& container, const std::string& execId, std::vector<std::string> fifos);
  // At a restore, before containerd is asked for any task's state: every process a marker or
  // an exec or probe fifo in the run directories names, its fifos held (a dead bridge's ends
  // went with it), waited for and deleted in the background. Returns how many.
  size_t reapOrphans();
  // The bridge is stopping: retries end (the markers and fifos stay for the next bridge).
  void stop() { stopping_ = true; }

 private:
  class HeldFifos;
  std::string markerOf(const std::string& container, const std::string& execId) const;
  enum class Deletion { done, running, failed };
  // One Tasks.DeleteProcess: done when the process is gone (deleted, or absent with its task),
  // running when the shim refused because it still runs.
  Deletion tryDelete(const std::string& container, const std::string& execId, bool logFailure);
  // Deletes the process, again while the deletion fails (for up to kPatience of failures in a
  // row), and when the shim refuses because it still runs, once it has ended (a restart of
  // containerd's does not end the wait; `killIfRunning`: kills it rather than wait for its end).
  // True once it is deleted.
  bool reap(const std::string& container, const std::string& execId, bool killIfRunning);
  // reap() on the scheduler, `fifos` held until it ends and removed if the process was deleted.
  void reapInBackground(const std::string& container, const std::string& execId, std::shared_ptr<HeldFifos> fifos,
                        bool killIfRunning);

  ContainerdTasks& tasks_;
  Scheduler& scheduler_;
  const ServicePaths& paths_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::bridge
