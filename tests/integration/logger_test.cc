// berth-logger as containerd's shim runs it: container stdout on fd 3, stderr on fd 4, and
// fd 5 closed when it is ready. What it writes is Docker's json-file format.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/cgroups.h"
#include "tests/support/engine.h"
#include "tests/support/process.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The logger with pipes on fds 3, 4 and 5, the way the shim starts it.
class Logger {
 public:
  explicit Logger(const std::vector<std::string>& args) {
    int out[2], err[2], ready[2];
    EXPECT_EQ(pipe(out), 0);
    EXPECT_EQ(pipe(err), 0);
    EXPECT_EQ(pipe(ready), 0);
    std::vector<std::string> argv = {binDir() + "/berth-logger"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int a = dup(out[0]), b = dup(err[0]), c = dup(ready[1]);
      dup2(a, 3);
      dup2(b, 4);
      dup2(c, 5);
      close_range(6, ~0U, 0);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(out[0]);
    close(err[0]);
    close(ready[1]);
    stdout_ = out[1];
    stderr_ = err[1];
    ready_ = ready[0];
  }
  ~Logger() {
    closeInputs();
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  // Blocks until the logger closes fd 5.
  bool waitReady() {
    char c;
    return read(ready_, &c, 1) == 0;
  }
  int stdoutFd() const { return stdout_; }
  pid_t pid() const { return pid_; }
  void out(const std::string& s) { ASSERT_EQ(write(stdout_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  void err(const std::string& s) { ASSERT_EQ(write(stderr_, s.data(), s.size()), static_cast<ssize_t>(s.size())); }
  void closeInputs() {
    if (stdout_ >= 0) close(stdout_);
    if (stderr_ >= 0) close(stderr_);
    stdout_ = stderr_ = -1;
  }
  int exitStatus() {
    closeInputs();
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1, stderr_ = -1, ready_ = -1;
};

std::vector<nlohmann::json> records(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(readText(path));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(LoggerTest, StdoutAndStderrLinesLandInJsonFileFormat) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log";
  Logger logger({"--path", path});
  ASSERT_TRUE(logger.waitReady());
  EXPECT_TRUE(fs::exists(path)) << "ready before the log file was open";
  logger.out("hello\nwor");
  logger.err("oops\n");
  logger.out("ld\n");
  ASSERT_EQ(logger.exitStatus(), 0);
  auto r = records(path);
  ASSERT_EQ(r.size(), 3u);
  std::map<std::string, std::vector<std::string>> byStream;
  for (const auto& j : r) {
    byStream[j["stream"]].push_back(j["log"]);
    std::string time = j["time"];
    EXPECT_EQ(time.size(), 30u) << time;  // 2026-11-28T06:00:00.123456789Z
    EXPECT_EQ(time.back(), 'Z');
  }
  EXPECT_EQ(byStream["stdout"], (std::vector<std::string>{"hello\n", "world\n"}));
  EXPECT_EQ(byStream["stderr"], (std::vector<std::string>{"oops\n"}));
}

TEST(LoggerTest, LongLinesSplitAt16KAndAnUnfinishedLastLineIsKept) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log";
  Logger logger({"--path=" + path});
  ASSERT_TRUE(logger.waitReady());
  logger.out(std::string(40000, 'x'));
  ASSERT_EQ(logger.exitStatus(), 0);
  auto r = records(path);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["log"].get<std::string>().size(), 16384u);
  EXPECT_EQ(r[1]["log"].get<std::string>().size(), 16384u);
  EXPECT_EQ(r[2]["log"].get<std::string>().size(), 40000u - 2 * 16384u);
}

// The bridge's word that the container's process exited: what the pipes hold is written and
// the log marked whole at once, without the end of the pipes (which only containerd's deletion
// of the task brings); what comes after is still written.
TEST(LoggerTest, Sigusr1WritesWhatThePipesHoldAndMarksTheLogWholeWhileItReadsOn) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log", done = dir.path() + "/logger.done", pidFile = dir.path() + "/logger.pid";
  Logger logger({"--path", path, "--done", done, "--pid-file", pidFile});
  ASSERT_TRUE(logger.waitReady());
  ASSERT_TRUE(fs::exists(pidFile)) << "ready before its pid was written";
  pid_t pid = logger.pid();
  EXPECT_EQ(std::stoi(readText(pidFile)), pid);
  // An earlier run's marker, left behind, is not taken for this logger's.
  std::ofstream(done) << "done 1\n";
  logger.out("one\ntw");
  logger.err("e\n");
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(readText(done), "done 1\n") << "marked whole while its pipes were open and nobody asked";

  ASSERT_EQ(kill(pid, SIGUSR1), 0);
  std::string mine = "done " + std::to_string(pid) + "\n";
  auto until = std::chrono::steady_clock::now() + 5s;
  while (readText(done) != mine && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(readText(done), mine);
  auto r = records(path);  // everything written before the signal, the unfinished line included
  std::map<std::string, std::vector<std::string>> byStream;
  for (const auto& j : r) byStream[j["stream"]].push_back(j["log"]);
  EXPECT_EQ(byStream["stdout"], (std::vector<std::string>{"one\n", "tw"}));
  EXPECT_EQ(byStream["stderr"], (std::vector<std::string>{"e\n"}));
  EXPECT_EQ(kill(pid, 0), 0) << "the logger ended before its pipes did";

  logger.out("late\n");
  ASSERT_EQ(logger.exitStatus(), 0);
  r = records(path);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r.back()["log"], "late\n");
  EXPECT_EQ(readText(done), "done " + std::to_string(pid) + "\n");
}

TEST(LoggerTest, RotationKeepsMaxFileFilesOfAtMostMaxSize) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log";
  Logger logger({"--path", path, "--max-size", "1000", "--max-file", "3"});
  ASSERT_TRUE(logger.waitReady());
  for (int i = 0; i < 100; ++i) logger.out("line " + std::to_string(i) + "\n");
  ASSERT_EQ(logger.exitStatus(), 0);
  EXPECT_TRUE(fs::exists(path + ".1"));
  EXPECT_TRUE(fs::exists(path + ".2"));
  EXPECT_FALSE(fs::exists(path + ".3"));
  for (const auto& p : {path, path + ".1", path + ".2"}) EXPECT_LE(fs::file_size(p), 1000u) << p;
  auto newest = records(path);
  ASSERT_FALSE(newest.empty());
  EXPECT_EQ(newest.back()["log"], "line 99\n");
  // Nothing between the kept files is lost: .2, .1 and the live file hold consecutive lines.
  auto oldest = records(path + ".2");
  int first = std::stoi(oldest.front()["log"].get<std::string>().substr(5));
  int count = static_cast<int>(oldest.size() + records(path + ".1").size() + newest.size());
  EXPECT_EQ(first + count, 100);
}

// A full disk drops records and is counted, as dockerd's json-file logger drops what it cannot
// write; the logger keeps reading (a dead logger leaves the container writing into a closed
// pipe, SIGPIPE), the file stays whole JSON lines, and logging resumes once there is room.
TEST(LoggerTest, AFullDiskDropsRecordsButTheLoggerKeepsReadingAndResumes) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  ::signal(SIGPIPE, SIG_IGN);  // a logger that died must fail the writes below, not end the test binary
  TempDir dir;
  std::string mnt = dir.path() + "/small";
  fs::create_directories(mnt);
  auto mounted = run({"mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt});
  ASSERT_EQ(mounted.exitCode, 0) << mounted.err;
  struct Unmount {
    std::string at;
    ~Unmount() { run({"umount", "-l", at}); }
  } unmount{mnt};
  std::string path = mnt + "/c-json.log";
  Logger logger({"--path", path});
  ASSERT_TRUE(logger.waitReady());
  logger.out("before\n");
  ASSERT_TRUE(waitFor([&] { return fs::file_size(path) > 0; }, 5s));
  // Fill the rest of the filesystem.
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    std::string block(4096, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) filler.flush();
  }
  auto used = fs::file_size(path);
  // The logger's write(2) calls, failed ones included: an empty pipe says only that the lines
  // were read, not that their writes were tried, and a write tried after the filler is removed
  // below would succeed.
  auto writeCalls = [&] {
    std::ifstream io("/proc/" + std::to_string(logger.pid()) + "/io");
    std::string key;
    uint64_t value = 0;
    while (io >> key >> value)
      if (key == "syscw:") return value;
    return uint64_t{0};
  };
  uint64_t callsBefore = writeCalls();
  ASSERT_GT(callsBefore, 0u) << "the logger wrote the first line";
  for (int i = 0; i < 100; ++i) logger.out("line " + std::to_string(i) + " " + std::string(200, 'x') + "\n");
  // Every byte was taken from the pipe (the logger is still reading), every record was tried,
  // and nothing was appended.
  int pending = -1;
  EXPECT_TRUE(waitFor([&] { return ::ioctl(logger.stdoutFd(), FIONREAD, &pending) == 0 && pending == 0; }, 10s))
      << pending << " bytes left in the pipe";
  EXPECT_TRUE(waitFor([&] { return writeCalls() >= callsBefore + 100; }, 10s))
      << writeCalls() - callsBefore << " of 100 records tried";
  EXPECT_LE(fs::file_size(path), used + 4096) << "the disk was full";
  fs::remove(mnt + "/filler");
  logger.out("after\n");
  ASSERT_EQ(logger.exitStatus(), 0);
  auto r = records(path);  // throws on a half-written line
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(r.front()["log"], "before\n");
  EXPECT_EQ(r.back()["log"], "after\n");
  EXPECT_LT(r.size(), 50u) << "most of the 100 lines written while the disk was full were dropped";
}

TEST(LoggerTest, NonUtf8OutputIsKeptReadable) {
  TempDir dir;
  std::string path = dir.path() + "/c-json.log";
  Logger logger({"--path", path});
  ASSERT_TRUE(logger.waitReady());
  logger.out("bad \xff\xfe bytes\n");
  ASSERT_EQ(logger.exitStatus(), 0);
  auto r = records(path);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0]["log"].get<std::string>().find("bytes"), std::string::npos);
}

TEST(LoggerTest, ContainerdRunsItThroughABinaryLogUriForARealContainer) {
  // The engine's managed containerd and runc run a busybox container whose output goes through
  // berth-logger, exactly as the containerd-bridge will wire it.
  Engine engine;
  TempDir work;
  std::string socket = engine.execRoot() + "/containerd/containerd.sock";
  std::string ns = "berth-logger-test";
  auto ctr = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"ctr", "-a", socket, "-n", ns});
    return run(args, {}, std::chrono::seconds(60));
  };
  auto r = ctr({"image", "import", busyboxArchive(work.path(), "berth-test/logger:1")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string log = work.path() + "/container-json.log";
  r = ctr({"run", "--rm", "--log-uri", "binary://" + binDir() + "/berth-logger?--path=" + log,
           "docker.io/berth-test/logger:1", "logger-test", "sh", "-c", "echo out-line; echo err-line >&2; exit 3"});
  EXPECT_EQ(r.exitCode, 3) << r.err;
  auto recs = records(log);
  ASSERT_EQ(recs.size(), 2u) << readText(log);
  std::map<std::string, std::string> byStream;
  for (const auto& j : recs) byStream[j["stream"]] = j["log"];
  EXPECT_EQ(byStream["stdout"], "out-line\n");
  EXPECT_EQ(byStream["stderr"], "err-line\n");
  ctr({"image", "rm", "docker.io/berth-test/logger:1"});
  removeNamespaceCgroups(ns);
}

}  // namespace
}  // namespace berth::test
