#include "common/sandbox.h"

#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/errors.h"
#include "common/signal_safe.h"

namespace berth::sandbox {
namespace {

// Filled before the filter is loaded, read by the SIGSYS handler: no allocation there.
constexpr int kMaxSyscall = 512;
char gNames[kMaxSyscall][28];
char gService[32];

void append(char* out, size_t& at, size_t cap, const char* text) {
  for (; *text && at + 1 < cap; ++text) out[at++] = *text;
}

void onSigsys(int, siginfo_t* info, void* context) {
  int saved = errno;
  int number = info->si_syscall;
  const char* name = number >= 0 && number < kMaxSyscall && gNames[number][0] ? gNames[number] : "?";
  char decimal[24];
  formatDecimal(decimal, sizeof decimal, static_cast<unsigned>(number));
  char line[160];
  size_t at = 0;
  append(line, at, sizeof line, gService);
  append(line, at, sizeof line, ": seccomp refused ");
  append(line, at, sizeof line, name);
  append(line, at, sizeof line, " (syscall ");
  append(line, at, sizeof line, decimal);
  append(line, at, sizeof line, ")\n");
  [[maybe_unused]] ssize_t w = ::write(2, line, at);
  // The call returns -EPERM to its caller, as if the kernel had refused it.
  auto* uc = static_cast<ucontext_t*>(context);
#if defined(__x86_64__)
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
  uc->uc_mcontext.regs[0] = static_cast<unsigned long long>(-EPERM);
#endif
  errno = saved;
}

int lastCapability() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  in >> last;
  return last;
}

void keepCapabilities(const std::vector<int>& keep) {
  auto kept = [&](int cap) {
    for (int k : keep) {
      if (k == cap) return true;
    }
    return false;
  };
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (kept(cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) throwSystemError("prctl PR_CAPBSET_DROP", "");
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  // Kept means kept from what the process holds: one it never had (a container or VM may
  // withhold some from root) cannot be added.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct held[2]{};
  if (::syscall(SYS_capget, &header, held) != 0) throwSystemError("capget", "");
  __user_cap_data_struct data[2]{};
  for (int k : keep) {
    uint32_t bit = 1u << (k % 32);
    if (!(held[k / 32].permitted & bit)) continue;
    data[k / 32].effective |= bit;
    data[k / 32].permitted |= bit;
  }
  if (::syscall(SYS_capset, &header, data) != 0) throwSystemError("capset", "");
}

void add(scmp_filter_ctx ctx, uint32_t action, const std::string& name, unsigned conditions = 0,
         scmp_arg_cmp condition = {}) {
  int number = seccomp_syscall_resolve_name(name.c_str());
  if (number == __NR_SCMP_ERROR) throw Error(ErrorKind::invalid, "unknown system call " + name);
  if (number < 0) return;  // not on this architecture
  int rc = conditions ? seccomp_rule_add(ctx, action, number, 1, condition) : seccomp_rule_add(ctx, action, number, 0);
  if (rc != 0 && rc != -EEXIST) throw Error(ErrorKind::internal, "seccomp_rule_add " + name + ": " + std::strerror(-rc));
}

}  // namespace

void logRefusals(const std::string& program) {
  std::strncpy(gService, program.c_str(), sizeof gService - 1);
  for (int n = 0; n < kMaxSyscall; ++n) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, n);
    if (name) std::strncpy(gNames[n], name, sizeof gNames[n] - 1);
    std::free(name);
  }
  struct sigaction sa {};
  sa.sa_sigaction = onSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGSYS, &sa, nullptr) != 0) throwSystemError("sigaction SIGSYS", "");
}

void confine(const Policy& policy) {
  logRefusals(policy.service);
  keepCapabilities(policy.capabilities);

  const char* mode = std::getenv("BERTH_SECCOMP");
  bool logOnly = mode && std::string(mode) == "log";
#if defined(__x86_64__) || defined(__aarch64__)
  uint32_t refuse = logOnly ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
#else
  uint32_t refuse = logOnly ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM);
#endif
  scmp_filter_ctx ctx = seccomp_init(refuse);
  if (!ctx) throw Error(ErrorKind::internal, "seccomp_init failed");
  struct Release {
    scmp_filter_ctx ctx;
    ~Release() { seccomp_release(ctx); }
  } release{ctx};
  for (const auto& name : ordinaryCalls()) add(ctx, SCMP_ACT_ALLOW, name);
  for (const auto& name : policy.calls) add(ctx, SCMP_ACT_ALLOW, name);
  if (policy.namespaces) {
    for (const char* name : {"clone", "clone3", "unshare", "setns"}) add(ctx, SCMP_ACT_ALLOW, name);
  } else {
    // Threads and spawned programs, but no namespace: clone's flags are its first argument;
    // clone3 passes them in memory, which a filter cannot read, so it reports ENOSYS and glibc
    // falls back to clone.
    constexpr uint64_t kNewNamespaces = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                        CLONE_NEWPID | CLONE_NEWNET;
    add(ctx, SCMP_ACT_ALLOW, "clone", 1, SCMP_A0(SCMP_CMP_MASKED_EQ, kNewNamespaces, 0));
    add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3");
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throwSystemError("prctl PR_SET_NO_NEW_PRIVS", "");
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    throw Error(ErrorKind::internal, "seccomp thread sync: " + std::string(std::strerror(-rc)));
  }
  if (int rc = seccomp_load(ctx); rc != 0) throw Error(ErrorKind::internal, "seccomp_load: " + std::string(std::strerror(-rc)));
}

const std::vector<std::string>& ordinaryCalls() {
  static const std::vector<std::string> calls = {
      // memory
      "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "membarrier",
      // files and directories
      "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2", "open",
      "openat", "openat2", "creat", "close", "close_range", "lseek", "fstat", "stat", "lstat", "newfstatat", "statx",
      "statfs", "fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents", "getdents64",
      "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
      "symlinkat", "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
      "fallocate", "fsync", "fdatasync", "sync_file_range", "flock", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2",
      "ioctl", "umask", "utimensat", "utimes", "futimesat", "getxattr", "lgetxattr", "fgetxattr", "setxattr",
      "lsetxattr", "fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
      "fremovexattr", "sendfile", "copy_file_range", "splice", "tee", "fadvise64", "chdir", "fchdir", "getcwd",
      "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "memfd_create",
      // sockets
      "socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname", "getpeername", "sendto",
      "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
      // waiting for descriptors
      "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
      "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
      "signalfd", "signalfd4",
      // threads and processes (clone is the policy's: see confine)
      "fork", "vfork", "exit", "exit_group", "wait4", "waitid", "kill", "tgkill", "tkill", "getpid", "getppid",
      "gettid", "getpgid", "getpgrp", "setpgid", "getsid", "setsid", "set_tid_address", "set_robust_list",
      "get_robust_list", "rseq", "futex", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam",
      "sched_getscheduler", "sched_setscheduler", "sched_setparam", "sched_getattr", "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority",
      "prctl", "arch_prctl", "uname", "sysinfo", "getrlimit", "setrlimit", "prlimit64", "getrusage", "times",
      "pidfd_open", "pidfd_send_signal", "capget", "getuid", "geteuid", "getgid", "getegid", "getgroups",
      "getresuid", "getresgid", "ioprio_get",
      // signals
      "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigsuspend", "rt_sigpending",
      "sigaltstack", "pause", "alarm", "restart_syscall",
      // time
      "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getitimer",
      "setitimer", "timer_create", "timer_settime", "timer_gettime", "timer_delete", "timer_getoverrun",
      // randomness
      "getrandom"};
  return calls;
}

}  // namespace berth::sandbox
