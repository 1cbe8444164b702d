// containerd leaves a namespace's parent cgroup behind (empty) after its containers go; tests
// that run containers in a namespace of their own remove it in every hierarchy.
#pragma once

#include <chrono>
#include <string>

namespace berth::test {

// How long removeNamespaceCgroups waits for the containers' own cgroups under the namespace's to go.
inline constexpr std::chrono::seconds kCgroupSettleLimit{5};

// Removes the namespace's cgroup in every hierarchy, waiting up to kCgroupSettleLimit while a
// container's cgroup is still under it.
void removeNamespaceCgroups(const std::string& ns);

}  // namespace berth::test
