// The bridge's stream socket protocol (ipc/stream_protocol.h): the request and reply lines both
// ends write and read, and docker cp's archive frames.
#include "ipc/stream_protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/errors.h"

namespace berth::ipc::streams {
namespace {

using json = nlohmann::json;

// Both ends of a connection; closed on destruction.
struct Connection {
  int fds[2] = {-1, -1};
  Connection() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~Connection() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  void closeWriter() {
    ::close(fds[0]);
    fds[0] = -1;
  }
};

std::string errorOf(const json& reply) {
  try {
    throwIfRefused(reply, "fallback");
  } catch (const Error& e) {
    return std::string(errorKindName(e.kind())) + ": " + e.what();
  }
  return "accepted";
}

TEST(StreamProtocolTest, TheSocketLivesInTheIpcDirectory) {
  EXPECT_EQ(socketPath("/run/berth/ipc"), "/run/berth/ipc/containerd-bridge-streams.sock");
}

TEST(StreamProtocolTest, ARequestIsOneJsonObjectOnOneLine) {
  std::string line = requestLine({{"op", "logs"}, {"id", "abc"}, {"follow", true}});
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(parseLine(line.substr(0, line.size() - 1)), (json{{"op", "logs"}, {"id", "abc"}, {"follow", true}}));
}

TEST(StreamProtocolTest, ARequestThatIsNotUtf8IsRefusedRatherThanAltered) {
  EXPECT_THROW(requestLine({{"op", "archive"}, {"path", "/a\xff"}}), json::type_error);
}

TEST(StreamProtocolTest, AnOkReplyCarriesItsFields) {
  EXPECT_EQ(okLine({{"tty", true}}), "{\"ok\":true,\"tty\":true}\n");
  EXPECT_EQ(okLine(), "{\"ok\":true}\n");
  auto reply = parseLine(okLine({{"stat", {{"name", "etc"}}}}));
  ASSERT_TRUE(reply);
  EXPECT_EQ(errorOf(*reply), "accepted");
  EXPECT_EQ((*reply)["stat"]["name"], "etc");
}

TEST(StreamProtocolTest, AReplyReplacesWhatJsonCannotCarry) {
  // A file name from a container need not be UTF-8.
  auto reply = parseLine(okLine({{"stat", {{"name", "caf\xe9"}}}}));
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["stat"]["name"], "caf\xef\xbf\xbd");
}

TEST(StreamProtocolTest, EveryErrorKindCrossesAsItself) {
  for (int i = 0; i < kErrorKindCount; ++i) {
    auto kind = static_cast<ErrorKind>(i);
    std::string line = errorLine(kind, "No such container: x");
    ASSERT_EQ(line.back(), '\n');
    auto reply = parseLine(line);
    ASSERT_TRUE(reply) << line;
    EXPECT_EQ(errorOf(*reply), std::string(errorKindName(kind)) + ": No such container: x");
  }
}

TEST(StreamProtocolTest, ARefusalOfAnUnknownKindIsInternalAndKeepsItsMessage) {
  EXPECT_EQ(errorOf({{"ok", false}, {"kind", "exploded"}, {"message", "boom"}}), "internal: boom");
  EXPECT_EQ(errorOf({{"ok", false}}), "internal: fallback");
}

TEST(StreamProtocolTest, ALineThatIsNotAnObjectIsNoReply) {
  EXPECT_FALSE(parseLine(""));
  EXPECT_FALSE(parseLine("[1]"));
  EXPECT_FALSE(parseLine("{\"ok\":"));
}

TEST(StreamProtocolTest, ReadingALineLeavesTheStreamAfterItUnread) {
  Connection c;
  std::string sent = okLine({{"tty", false}}) + "raw bytes";
  ASSERT_TRUE(writeAll(c.fds[0], sent));
  c.closeWriter();
  EXPECT_EQ(readLine(c.fds[1]), "{\"ok\":true,\"tty\":false}");
  char rest[64];
  ssize_t n = ::read(c.fds[1], rest, sizeof rest);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(rest, static_cast<size_t>(n)), "raw bytes");
}

TEST(StreamProtocolTest, ALineEndsAtTheEndOfInput) {
  Connection c;
  ASSERT_TRUE(writeAll(c.fds[0], "{\"ok\":true}"));
  c.closeWriter();
  EXPECT_EQ(readLine(c.fds[1]), "{\"ok\":true}");
  EXPECT_EQ(readLine(c.fds[1]), "");
}

TEST(StreamProtocolTest, WritingToAPeerThatIsGoneFailsWithoutASignal) {
  Connection c;
  ::close(c.fds[1]);
  c.fds[1] = -1;
  EXPECT_FALSE(writeAll(c.fds[0], std::string(1 << 16, 'x')));
}

TEST(StreamProtocolTest, FramesCarryAnArchiveUntilTheEmptyFrame) {
  Connection c;
  std::string big(70000, 'b');
  ASSERT_TRUE(writeFrame(c.fds[0], "first"));
  std::thread writer([&] {
    writeFrame(c.fds[0], big);
    writeFrame(c.fds[0], {});
  });
  std::string data;
  readFrame(c.fds[1], data);
  EXPECT_EQ(data, "first");
  readFrame(c.fds[1], data);
  EXPECT_EQ(data, big);
  readFrame(c.fds[1], data);
  EXPECT_EQ(data, "");
  writer.join();
}

TEST(StreamProtocolTest, AnArchiveWithoutItsEmptyFrameWasCutShort) {
  Connection c;
  ASSERT_TRUE(writeFrame(c.fds[0], "part"));
  ASSERT_TRUE(writeAll(c.fds[0], std::string("\0\0\0\x10half", 8)));  // a frame of 16 bytes, 4 sent
  c.closeWriter();
  std::string data;
  readFrame(c.fds[1], data);
  EXPECT_EQ(data, "part");
  try {
    readFrame(c.fds[1], data);
    FAIL() << "a truncated frame was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    EXPECT_STREQ(e.what(), "the container's archive was cut short");
  }
  try {
    readFrame(c.fds[1], data);
    FAIL() << "a frame was read after the end of the stream";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the container's archive was cut short");
  }
}

TEST(StreamProtocolTest, AFrameOverTheLimitIsRefusedBeforeItIsRead) {
  Connection c;
  ASSERT_TRUE(writeAll(c.fds[0], std::string("\x04\x00\x00\x01", 4)));  // 64 MiB + 1
  std::string data;
  try {
    readFrame(c.fds[1], data);
    FAIL() << "an oversized frame was accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "malformed archive frame");
  }
}

}  // namespace
}  // namespace berth::ipc::streams
