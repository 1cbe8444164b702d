// Compiled only into sanitized builds (BERTH_SANITIZE), into the executables that need options
// other than the environment's (docs/testing.md, "Under AddressSanitizer and
// UndefinedBehaviorSanitizer"). The sanitizers read these first and ASAN_OPTIONS, LSAN_OPTIONS and
// UBSAN_OPTIONS after them, so the environment, where a process has one, has the last word.
//
// BERTH_SANITIZER_NO_LEAK_CHECK (every service, berth-archive, berth-logger): LeakSanitizer's
// check at exit could only fail there. It stops the world by attaching to every thread with
// ptrace, and each service's seccomp allowlist leaves ptrace out (common/sandbox.cc); berth-archive
// and berth-logger run under the bridge's filter (the logger when the bridge starts it), and
// berth-archive has also chrooted into a container's filesystem, which has no /proc mounted.
// AddressSanitizer and UndefinedBehaviorSanitizer stay on in all of them.
//
// BERTH_SANITIZER_LOG_DIR (berth-logger): containerd's shim starts the logger with an
// environment of two variables (CONTAINER_ID, CONTAINER_NAMESPACE) and /dev/null as stderr. Its
// AddressSanitizer reports go to the directory as every other process's do; GCC's separate UBSan
// runtime writes to stderr whatever log_path says, so a /dev/null stderr becomes a file there.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#if defined(BERTH_SANITIZER_NO_LEAK_CHECK)
extern "C" const char* __lsan_default_options() { return "detect_leaks=0"; }
#endif

#if defined(BERTH_SANITIZER_LOG_DIR)
// UBSan's runtime hands its log_path to ASan's when it starts: both name the same one.
extern "C" const char* __asan_default_options() { return "log_path=" BERTH_SANITIZER_LOG_DIR "/asan:log_exe_name=1"; }
extern "C" const char* __ubsan_default_options() {
  return "log_path=" BERTH_SANITIZER_LOG_DIR "/asan:log_exe_name=1:print_stacktrace=1";
}

namespace {

__attribute__((constructor)) void sendANullStderrToTheSanitizerLogDirectory() {
  struct stat st {};
  if (::fstat(2, &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) return;  // not /dev/null
  std::string path = BERTH_SANITIZER_LOG_DIR "/stderr.berth-logger." + std::to_string(::getpid());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;  // no directory: a run without scripts/test-sanitized.sh
  ::dup2(fd, 2);
  ::close(fd);
}

}  // namespace
#endif
