// Containers' network namespaces, owned by the network service: one per container, created
// before its first task starts and kept until the container is removed, bind-mounted at
// <exec-root>/netns/<container id> (as dockerd keeps its sandboxes under /var/run/docker/netns).
// The mount holds the namespace, so it outlives every berth process: a restart of the network
// service (or of the bridge) never touches a running container's network.
//
// Crash safety: whether a path holds a namespace is asked of the kernel (the file system type
// of the path), never of a table, so an interrupted create (the file made, not yet mounted) is
// finished by the next ensure() and removed by remove() or prune().
#pragma once

#include <set>
#include <string>
#include <vector>

namespace berth::network {

class ContainerNamespaces {
 public:
  explicit ContainerNamespaces(std::string dir);

  // The container's namespace path, creating the namespace (loopback up, nothing else) when
  // there is none yet. invalid for anything but a 64-hex id.
  std::string ensure(const std::string& container);
  // Unmounts and deletes it; no error when there is none.
  void remove(const std::string& container);
  // Removes every namespace whose container is not in `keep` (the bridge's containers).
  // Returns the ids removed.
  std::vector<std::string> prune(const std::set<std::string>& keep);
  // Ids that have a namespace (or the file of an interrupted create).
  std::vector<std::string> list() const;

  std::string pathOf(const std::string& container) const { return dir_ + "/" + container; }

 private:
  std::string dir_;
};

}  // namespace berth::network
