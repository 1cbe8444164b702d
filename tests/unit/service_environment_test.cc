// The environment the supervisor gives a service: malloc's per-thread caches off, whatever
// tunables the engine was started with otherwise kept, and a child's own entries replacing the
// inherited ones of the same name.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "supervisor/child.h"
#include "tests/support/process.h"

namespace berth::supervisor {
namespace {

TEST(ServiceTunablesTest, TurnsThePerThreadCachesOffWhenNothingIsSet) {
  EXPECT_EQ(serviceTunables(nullptr), "GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
  EXPECT_EQ(serviceTunables(""), "GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
}

TEST(ServiceTunablesTest, KeepsTheEnginesOwnTunablesAndItsOwnCacheSize) {
  EXPECT_EQ(serviceTunables("glibc.malloc.arena_max=1"),
            "GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0");
  EXPECT_EQ(serviceTunables("glibc.malloc.tcache_count=7:glibc.malloc.arena_max=1"),
            "GLIBC_TUNABLES=glibc.malloc.tcache_count=7:glibc.malloc.arena_max=1");
}

TEST(SpawnChildTest, AChildsOwnEntryReplacesTheInheritedOneOfThatName) {
  test::TempDir dir;
  std::string out = dir.path() + "/env";
  ChildSpec spec;
  spec.name = "probe";
  spec.argv = {"/bin/sh", "-c", "printf '%s|%s' \"$GLIBC_TUNABLES\" \"$KEPT\" > " + out};
  spec.env = {"GLIBC_TUNABLES=glibc.malloc.tcache_count=0"};
  SpawnEnvironment env;
  env.base = {"PATH=/usr/bin:/bin", "GLIBC_TUNABLES=glibc.malloc.arena_max=1", "KEPT=yes"};
  env.notifySocket = dir.path() + "/notify";
  pid_t pid = spawnChild(spec, env);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(test::readText(out), "glibc.malloc.tcache_count=0|yes");
}

}  // namespace
}  // namespace berth::supervisor
