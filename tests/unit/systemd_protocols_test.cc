// systemd's service protocols as berth speaks them without libsystemd (common/notify.h,
// common/journal.h): what arrives on the manager's and journald's sockets, read back as the
// documents describe it (sd_notify(3), sd_listen_fds(3), systemd.io/JOURNAL_NATIVE_PROTOCOL).
// The integration tests check the same against systemd's own tools (tests/integration/systemd_test.cc).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/journal.h"
#include "common/notify.h"

namespace berth {
namespace {

// A datagram socket bound at `path`, as systemd's notify socket or journald's is.
class DatagramListener {
 public:
  explicit DatagramListener(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (path[0] == '@') a.sun_path[0] = '\0';
    socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), size), 0) << strerror(errno);
    int big = 4 << 20;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    timeval limit{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~DatagramListener() { ::close(fd_); }

  // The next datagram's bytes and the descriptor it carried (-1 for none); "<nothing>" when
  // none came within 2 s.
  std::string receive(int* passedFd = nullptr) {
    std::string buffer(1 << 20, '\0');
    iovec part{buffer.data(), buffer.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &part;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd_, &m, MSG_CMSG_CLOEXEC);
    if (n < 0) return "<nothing>";
    if (passedFd) {
      *passedFd = -1;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(passedFd, CMSG_DATA(c), sizeof(int));
      }
    }
    buffer.resize(static_cast<size_t>(n));
    return buffer;
  }

 private:
  int fd_;
};

std::string tempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string();
}

// Sets an environment variable for one test and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SystemdProtocolsTest, ReadinessStatusAndStoppingReachAPathOrAnAbstractNotifySocket) {
  for (std::string path : {tempPath("berth-notify"), "@" + tempPath("berth-notify-abstract")}) {
    ::unlink(path.c_str());
    DatagramListener manager(path);
    ScopedEnv env("NOTIFY_SOCKET", path);
    Notifier n;
    n.ready("serving");
    EXPECT_EQ(manager.receive(), "READY=1\nSTATUS=serving\nMAINPID=" + std::to_string(::getpid())) << path;
    n.status("restoring");
    EXPECT_EQ(manager.receive(), "STATUS=restoring") << path;
    n.stopping();
    EXPECT_EQ(manager.receive(), "STOPPING=1") << path;
    if (path[0] == '/') ::unlink(path.c_str());
  }
}

TEST(SystemdProtocolsTest, NoNotifySocketMeansNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(notifyManager("READY=1"));
  ScopedEnv relative("NOTIFY_SOCKET", "relative/path");
  EXPECT_FALSE(notifyManager("READY=1"));
}

TEST(SystemdProtocolsTest, TheWatchdogIntervalIsOnlyForTheProcessItNames) {
  ScopedEnv usec("WATCHDOG_USEC", "4000000");
  {
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()));
    EXPECT_EQ(watchdogInterval(), std::chrono::microseconds(4000000));
  }
  {
    ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
    EXPECT_EQ(watchdogInterval(), std::nullopt);
  }
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(watchdogInterval(), std::chrono::microseconds(4000000));  // no pid: ours
  ScopedEnv zero("WATCHDOG_USEC", "0");
  EXPECT_EQ(watchdogInterval(), std::nullopt);
}

TEST(SystemdProtocolsTest, ListenFdsAreTakenOnlyByTheNamedProcessAndTheVariablesGo) {
  // Two sockets at 3 and 4 would be what a manager passes; here they are whatever the test
  // process has there, so the count is checked, not the sockets.
  int spare[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, spare), 0);
  int at3 = ::fcntl(3, F_GETFD) >= 0, at4 = ::fcntl(4, F_GETFD) >= 0;
  ASSERT_TRUE(at3 && at4) << "descriptors 3 and 4 are open in the test process";
  ::setenv("LISTEN_PID", std::to_string(::getpid() + 1).c_str(), 1);
  ::setenv("LISTEN_FDS", "2", 1);
  EXPECT_EQ(takeListenFds(), 0);
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDS", "2", 1);
  ::setenv("LISTEN_FDNAMES", "a:b", 1);
  EXPECT_EQ(takeListenFds(), 2);
  EXPECT_TRUE(::fcntl(3, F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(4, F_GETFD) & FD_CLOEXEC);
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_FDNAMES"), nullptr);
  EXPECT_EQ(takeListenFds(), 0);  // taken once
  ::close(spare[0]);
  ::close(spare[1]);
}

TEST(SystemdProtocolsTest, JournalEntriesSpellValuesWithNewlinesByLength) {
  std::string multi = "two\nlines";
  std::string expected = "PRIORITY=6\nMESSAGE\n";
  expected += std::string("\x09\0\0\0\0\0\0\0", 8);
  expected += "two\nlines\nBERTH_SERVICE=api\n";
  EXPECT_EQ(encodeJournalEntry({{"PRIORITY", "6"}, {"MESSAGE", multi}, {"BERTH_SERVICE", "api"}}), expected);
}

TEST(SystemdProtocolsTest, AJournalEntryArrivesAsOneDatagramOrALargeOneAsASealedMemfd) {
  std::string path = tempPath("berth-journal");
  ::unlink(path.c_str());
  DatagramListener journald(path);
  JournalWriter writer(path);
  ASSERT_TRUE(writer.send({{"MESSAGE", "started"}, {"PRIORITY", "6"}, {"BERTH_SERVICE", "images"}}));
  int fd = -2;
  EXPECT_EQ(journald.receive(&fd), "MESSAGE=started\nPRIORITY=6\nBERTH_SERVICE=images\n");
  EXPECT_EQ(fd, -1);

  std::string large(1 << 20, 'x');  // larger than a datagram may be
  ASSERT_TRUE(writer.send({{"MESSAGE", large}, {"PRIORITY", "4"}}));
  EXPECT_EQ(journald.receive(&fd), "");
  ASSERT_GE(fd, 0) << "no descriptor passed";
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  std::string content(static_cast<size_t>(st.st_size), '\0');
  EXPECT_EQ(::pread(fd, content.data(), content.size(), 0), st.st_size);
  EXPECT_EQ(content, "MESSAGE=" + large + "\nPRIORITY=4\n");
  int seals = ::fcntl(fd, F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);  // journald refuses unsealed ones
  ::close(fd);
  ::unlink(path.c_str());
  EXPECT_FALSE(JournalWriter(path).send({{"MESSAGE", "nobody listens"}}));
}

}  // namespace
}  // namespace berth
