#include "common/sandbox.h"

#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/errors.h"

namespace berth::sandbox {
namespace {

// Filled before the filter is loaded, read by the SIGSYS handler: no allocation there.
constexpr int kMaxDenied = 64;
struct DeniedCall {
  int number;
  char name[32];
};
DeniedCall gDenied[kMaxDenied];
int gDeniedCount = 0;
char gService[32];

void append(char* out, size_t& at, size_t cap, const char* text) {
  for (; *text && at + 1 < cap; ++text) out[at++] = *text;
}

void onSigsys(int, siginfo_t* info, void* context) {
  int saved = errno;
  int number = info->si_syscall;
  const char* name = "?";
  for (int i = 0; i < gDeniedCount; ++i) {
    if (gDenied[i].number == number) name = gDenied[i].name;
  }
  char line[160];
  size_t at = 0;
  char digits[16];
  int n = 0;
  unsigned v = static_cast<unsigned>(number);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && n < 15);
  char decimal[16];
  for (int i = 0; i < n; ++i) decimal[i] = digits[n - 1 - i];
  decimal[n] = '\0';
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

}  // namespace

void dropAllCapabilities() {
  for (int cap = 0; cap <= lastCapability(); ++cap) {
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) throwSystemError("prctl PR_CAPBSET_DROP", "");
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capset, &header, data) != 0) throwSystemError("capset", "");
}

void denySystemCalls(const std::string& service, const std::vector<std::string>& denied) {
  if (denied.size() > kMaxDenied) throw Error(ErrorKind::invalid, "too many system calls to deny");
  std::strncpy(gService, service.c_str(), sizeof gService - 1);
  gDeniedCount = 0;
#if defined(__x86_64__) || defined(__aarch64__)
  uint32_t action = SCMP_ACT_TRAP;
#else
  uint32_t action = SCMP_ACT_ERRNO(EPERM);
#endif
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) throw Error(ErrorKind::internal, "seccomp_init failed");
  struct Release {
    scmp_filter_ctx ctx;
    ~Release() { seccomp_release(ctx); }
  } release{ctx};
  for (const auto& name : denied) {
    int number = seccomp_syscall_resolve_name(name.c_str());
    if (number == __NR_SCMP_ERROR) throw Error(ErrorKind::invalid, "unknown system call " + name);
    if (number < 0) continue;  // not on this architecture
    if (int rc = seccomp_rule_add(ctx, action, number, 0); rc != 0) {
      throw Error(ErrorKind::internal, "seccomp_rule_add " + name + ": " + std::strerror(-rc));
    }
    gDenied[gDeniedCount].number = number;
    std::strncpy(gDenied[gDeniedCount].name, name.c_str(), sizeof gDenied[gDeniedCount].name - 1);
    ++gDeniedCount;
  }
  struct sigaction sa {};
  sa.sa_sigaction = onSigsys;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGSYS, &sa, nullptr) != 0) throwSystemError("sigaction SIGSYS", "");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throwSystemError("prctl PR_SET_NO_NEW_PRIVS", "");
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); rc != 0) {
    throw Error(ErrorKind::internal, "seccomp thread sync: " + std::string(std::strerror(-rc)));
  }
  if (int rc = seccomp_load(ctx); rc != 0) throw Error(ErrorKind::internal, "seccomp_load: " + std::string(std::strerror(-rc)));
}

const std::vector<std::string>& privilegedCalls() {
  static const std::vector<std::string> calls = {
      "mount",         "umount2",         "pivot_root",     "chroot",          "ptrace",        "process_vm_readv",
      "process_vm_writev", "init_module", "finit_module",   "delete_module",   "kexec_load",    "kexec_file_load",
      "reboot",        "swapon",          "swapoff",        "setns",           "unshare",       "execve",
      "execveat",      "bpf",             "perf_event_open", "open_by_handle_at", "name_to_handle_at", "keyctl",
      "add_key",       "request_key",     "userfaultfd",    "iopl",            "ioperm",        "acct",
      "settimeofday",  "clock_settime",   "adjtimex",       "syslog",          "quotactl",      "mknod",
      "mknodat",       "fanotify_init",   "lookup_dcookie", "fsopen",          "fsmount",       "move_mount",
      "open_tree"};
  return calls;
}

}  // namespace berth::sandbox
