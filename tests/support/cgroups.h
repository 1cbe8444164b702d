// containerd leaves a namespace's parent cgroup behind (empty) after its containers go; tests
// that run containers in a namespace of their own remove it in every hierarchy.
#pragma once

#include <string>

namespace berth::test {

void removeNamespaceCgroups(const std::string& ns);

}  // namespace berth::test
