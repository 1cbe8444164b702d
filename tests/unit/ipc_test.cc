// The IPC layer's contract: round trips, deadlines, a peer that dies or restarts, concurrency,
// hostile input, and the event channel.
#include <gtest/gtest.h>

#include <filesystem>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/time_format.h"
#include "ipc/events.h"
#include "ipc/message.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/schema/rpc.capnp.h"
#include "ipc/view_stamp.h"
#include "tests/support/process.h"
#include "tests/unit/echo_server.h"

namespace berth {
namespace {

using namespace std::chrono_literals;
using testing::echoMethod;
using testing::failMethod;
using testing::sleepMethod;
using testing::peekMethod;

// Sets the flag that holds the test's handlers, then joins their callers: on every way out of
// a test, so a failed assertion never leaves a thread waiting on a handler that never returns.
struct ReleaseAndJoin {
  std::atomic<bool>& flag;
  std::vector<std::thread>& threads;
  ~ReleaseAndJoin() {
    flag = true;
    for (auto& t : threads) t.join();
  }
};

class IpcTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"berth-ipc"};
  std::string endpoint_ = "ipc://" + dir_.path() + "/echo.sock";
  zmq::context_t context_;

  std::string echo(ipc::RpcClient& client, const std::string& text, ipc::Deadline deadline) {
    auto reply = client.call(echoMethod(), deadline, [&](testing::Echo::EchoParams::Builder p) { p.setText(text); });
    return reply.get().getText();
  }

  uint32_t echoPid(ipc::RpcClient& client) {
    auto reply = client.callIdempotent(echoMethod(), ipc::deadlineIn(5s),
                                       [](testing::Echo::EchoParams::Builder p) { p.setText("pid?"); });
    return reply.get().getPid();
  }

  std::unique_ptr<test::Spawned> spawnServer() {
    auto s = std::make_unique<test::Spawned>(
        std::vector<std::string>{test::binDir() + "/ipc-test-server", endpoint_}, std::vector<std::string>{},
        dir_.path() + "/server.log");
    return s;
  }
};

// The flat form of a builder's message, as encode() would send it.
std::string flatBytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.asBytes().begin()), words.asBytes().size());
}

TEST(FrameBuilderTest, AMessageThatFitsItsFirstSegmentBecomesItsFrameWithoutACopy) {
  ipc::FrameBuilder message(64);
  message.initRoot<testing::Echo::EchoParams>().setText("in place");
  std::string expected = flatBytes(message);
  const void* segment = message.getSegmentsForOutput()[0].begin();
  auto frame = message.release();
  EXPECT_EQ(frame.to_string(), expected);
  // The frame is the segment's own buffer, one word (the segment table) before it.
  EXPECT_EQ(static_cast<const char*>(frame.data()) + sizeof(capnp::word), segment);
  ipc::MessageIn in(std::move(frame));
  EXPECT_EQ(std::string(in.root<testing::Echo::EchoParams>().getText()), "in place");
}

TEST(FrameBuilderTest, AMessageThatOutgrowsItsFirstSegmentIsSentFlattened) {
  ipc::FrameBuilder message(4);
  std::string text(10000, 't');
  message.initRoot<testing::Echo::EchoParams>().setText(text);
  ASSERT_GT(message.getSegmentsForOutput().size(), 1u);
  std::string expected = flatBytes(message);
  auto frame = message.release();
  EXPECT_EQ(frame.to_string(), expected);
  ipc::MessageIn in(std::move(frame));
  EXPECT_EQ(std::string(in.root<testing::Echo::EchoParams>().getText()), text);
}

TEST_F(IpcTest, ACallRoundTripsItsParamsAndResults) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "hello, berth", ipc::deadlineIn(2s)), "hello, berth");
  std::string big(1 << 20, 'x');
  EXPECT_EQ(echo(client, big, ipc::deadlineIn(2s)), big);
  // Params built for the blob they carry, for one that outgrows what was foreseen, and for
  // one far smaller.
  for (size_t foreseen : {big.size(), big.size() / 4, big.size() * 4}) {
    auto reply = client.callWithBlob(echoMethod(), ipc::deadlineIn(2s), foreseen,
                                     [&](testing::Echo::EchoParams::Builder p) { p.setText(big); });
    EXPECT_TRUE(std::string(reply.get().getText()) == big) << "foreseen " << foreseen;
  }
}

TEST_F(IpcTest, ABlobReplyArrivesWholeWhetherItsSizeWasForeseenOrNot) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  ipc::RpcClient client(context_, endpoint_);
  auto blob = [&](uint32_t bytes, uint32_t foreseen) {
    auto reply = client.call(testing::blobMethod(), ipc::deadlineIn(5s), [&](testing::Echo::BlobParams::Builder p) {
      p.setBytes(bytes);
      p.setForeseen(foreseen);
    });
    auto data = reply.get().getData();
    std::string wrong;
    for (size_t i = 0; i < data.size() && wrong.empty(); ++i) {
      if (data[i] != i % 251) wrong = "byte " + std::to_string(i) + " is " + std::to_string(data[i]);
    }
    return std::to_string(data.size()) + (wrong.empty() ? "" : ", " + wrong);
  };
  EXPECT_EQ(blob(3 << 20, 3 << 20), std::to_string(3 << 20));  // built in place
  EXPECT_EQ(blob(3 << 20, 0), std::to_string(3 << 20));        // grows past its first segment
  EXPECT_EQ(blob(3 << 20, 1 << 20), std::to_string(3 << 20));
  EXPECT_EQ(blob(5, UINT32_MAX), "5");  // a foreseen size no frame could hold is bounded
  EXPECT_EQ(blob(0, 0), "0");
}

TEST_F(IpcTest, AHandlerErrorArrivesWithItsKindAndMessage) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  ipc::RpcClient client(context_, endpoint_);
  try {
    client.call(failMethod(), ipc::deadlineIn(2s), [](testing::Echo::FailParams::Builder p) {
      p.setKind(static_cast<uint8_t>(ErrorKind::conflict));
      p.setMessage("name already in use");
    });
    FAIL() << "call succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conflict);
    EXPECT_STREQ(e.what(), "name already in use");
  }
}

TEST_F(IpcTest, ASlowServerFailsTheCallWithDeadlineExceededAtTheDeadline) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  ipc::RpcClient client(context_, endpoint_);
  auto start = ipc::Clock::now();
  try {
    client.call(sleepMethod(), ipc::deadlineIn(200ms), [](testing::Echo::SleepParams::Builder p) { p.setMs(2000); });
    FAIL() << "call succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::deadlineExceeded) << e.what();
  }
  auto elapsed = ipc::Clock::now() - start;
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 600ms);
  // The late reply to the abandoned call is not mistaken for the next call's.
  EXPECT_EQ(echo(client, "after", ipc::deadlineIn(5s)), "after");
}

TEST_F(IpcTest, ACallToAServerThatIsNotRunningFailsUnavailableAtTheDeadline) {
  ipc::RpcClient client(context_, endpoint_);
  auto start = ipc::Clock::now();
  try {
    echo(client, "anyone?", ipc::deadlineIn(300ms));
    FAIL() << "call succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unavailable) << e.what();
  }
  EXPECT_LT(ipc::Clock::now() - start, 800ms);
}

TEST_F(IpcTest, AServerKilledMidCallFailsTheCallUnavailableLongBeforeItsDeadline) {
  auto server = spawnServer();
  ipc::RpcClient client(context_, endpoint_);
  std::vector<uint64_t> wentAway;  // what onWentAway was told
  client.onWentAway([&](uint64_t sentAt) { wentAway.push_back(sentAt); });
  auto pid = echoPid(client);
  ASSERT_EQ(pid, server->pid());
  EXPECT_TRUE(wentAway.empty()) << "a call that was answered";
  std::thread killer([&] {
    std::this_thread::sleep_for(300ms);
    server->signal(SIGKILL);
  });
  auto start = ipc::Clock::now();
  uint64_t before = ipc::viewClockNow();
  try {
    client.call(sleepMethod(), ipc::deadlineIn(10s), [](testing::Echo::SleepParams::Builder p) { p.setMs(8000); });
    FAIL() << "call succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::unavailable) << e.what();
    EXPECT_TRUE(ipc::RpcClient::wentAwayDuringCall(e)) << e.what();
  }
  uint64_t after = ipc::viewClockNow();
  auto elapsed = ipc::Clock::now() - start;
  killer.join();
  EXPECT_LT(elapsed, 2s) << "the caller waited for its deadline instead of noticing the peer was gone";
  // The observer heard of it once, with the moment the request left: before the server died,
  // so before any later run of it started (whose epoch is its start on the same clock).
  ASSERT_EQ(wentAway.size(), 1u);
  EXPECT_GE(wentAway[0], before);
  EXPECT_LT(wentAway[0], after);
  // A peer that is not there never saw the request: nothing it may have done.
  server->wait(5s);
  EXPECT_THROW(echo(client, "anyone?", ipc::deadlineIn(200ms)), Error);
  EXPECT_EQ(wentAway.size(), 1u);
  // A method the schema declares $readOnly cannot have acted: its peer dying mid-call is no news.
  auto second = spawnServer();
  ASSERT_EQ(static_cast<pid_t>(client.callIdempotent(echoMethod(), ipc::deadlineIn(5s)).get().getPid()), second->pid());
  std::thread killer2([&] {
    std::this_thread::sleep_for(300ms);
    second->signal(SIGKILL);
  });
  try {
    client.call(peekMethod(), ipc::deadlineIn(10s), [](testing::Echo::PeekParams::Builder p) { p.setMs(8000); });
    ADD_FAILURE() << "call succeeded";
  } catch (const Error& e) {
    EXPECT_TRUE(ipc::RpcClient::wentAwayDuringCall(e)) << e.what();
  }
  killer2.join();
  EXPECT_EQ(wentAway.size(), 1u);
}

TEST(MethodTest, TheSchemasReadOnlyAnnotationMarksTheMethodsThatChangeNothing) {
  EXPECT_TRUE(testing::peekMethod().readOnly);
  EXPECT_FALSE(testing::sleepMethod().readOnly);
  EXPECT_TRUE(ipc::methods::recent().readOnly);
  EXPECT_TRUE(ipc::methods::health().readOnly);
  EXPECT_TRUE(ipc::methods::bridgeWait().readOnly);
  EXPECT_TRUE(ipc::methods::bridgeContainerViews().readOnly);
  EXPECT_TRUE(ipc::methods::volumesInspect().readOnly);
  EXPECT_TRUE(ipc::methods::imagesProgress().readOnly);
  EXPECT_FALSE(ipc::methods::bridgeRemove().readOnly);
  EXPECT_FALSE(ipc::methods::volumesRemove().readOnly);
  EXPECT_FALSE(ipc::methods::volumesCreate().readOnly);
  EXPECT_FALSE(ipc::methods::imagesLoad().readOnly);
}

TEST_F(IpcTest, AClientReconnectsByItselfWhenTheServerComesBack) {
  ipc::RpcClient client(context_, endpoint_);
  auto first = spawnServer();
  uint32_t pid1 = echoPid(client);
  first->signal(SIGKILL);
  first->wait(5s);
  auto second = spawnServer();
  // No action by the caller: the same client object, the next calls succeed once it is up.
  uint32_t pid2 = 0;
  auto reply = client.callIdempotent(echoMethod(), ipc::deadlineIn(5s),
                                     [](testing::Echo::EchoParams::Builder p) { p.setText("again"); });
  pid2 = reply.get().getPid();
  EXPECT_NE(pid1, pid2);
  EXPECT_EQ(static_cast<pid_t>(pid2), second->pid());
  EXPECT_EQ(echo(client, "plain call", ipc::deadlineIn(2s)), "plain call");
}

TEST_F(IpcTest, ManyConcurrentCallersEachGetTheirOwnAnswer) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  ipc::RpcClient client(context_, endpoint_);
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string text = std::to_string(t) + ":" + std::to_string(i);
        try {
          (echo(client, text, ipc::deadlineIn(5s)) == text ? ok : wrong)++;
        } catch (const std::exception&) {
          wrong++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16 * 200);
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(IpcTest, MalformedAndOversizedMessagesAreRejectedAndTheServerKeepsServing) {
  ipc::RpcServer server(context_, endpoint_);
  testing::registerEcho(server);
  server.start();
  {
    zmq::socket_t raw(context_, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(endpoint_);
    auto sendFrames = [&](std::vector<std::string> frames) {
      std::vector<zmq::message_t> msgs;
      for (auto& f : frames) msgs.emplace_back(f.data(), f.size());
      zmq::send_multipart(raw, msgs);
    };
    sendFrames({"garbage"});                                   // one frame
    sendFrames({"not a header!!!!", "params!!"});               // not Cap'n Proto
    sendFrames({std::string(16, '\xff'), std::string(8, 0)});  // a segment table claiming huge sizes
    sendFrames({"a", "b", "c", "d"});                          // too many frames
    // A well-formed header naming an unknown method gets a typed error reply.
    capnp::MallocMessageBuilder h;
    auto header = h.initRoot<ipc::wire::CallHeader>();
    header.setRequestId(7);
    header.setInterfaceId(0x1234);
    header.setMethodId(9);
    capnp::MallocMessageBuilder p;
    p.initRoot<testing::Echo::EchoParams>();
    std::vector<zmq::message_t> call;
    call.push_back(ipc::encode(h));
    call.push_back(ipc::encode(p));
    zmq::send_multipart(raw, call);
    std::vector<zmq::message_t> reply;
    raw.set(zmq::sockopt::rcvtimeo, 2000);
    ASSERT_TRUE(zmq::recv_multipart(raw, std::back_inserter(reply)));
    ipc::MessageIn rh(reply.at(0));
    auto r = rh.root<ipc::wire::ReplyHeader>();
    EXPECT_EQ(r.getRequestId(), 7u);
    ASSERT_TRUE(r.isError());
    EXPECT_EQ(r.getError().getKind(), ipc::wire::ErrorKind::INVALID);
    // The server handles one connection's messages in order, so by this reply it has seen the
    // four malformed ones, and dropped each.
    EXPECT_EQ(server.droppedMessages(), 4u);
  }
  {
    // A frame over the size limit: ZeroMQ drops the sender's connection before buffering it,
    // which the sender sees as a disconnect; nothing reaches the server's handlers.
    zmq::socket_t raw(context_, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    struct DisconnectMonitor : zmq::monitor_t {
      bool disconnected = false;
      void on_event_disconnected(const zmq_event_t&, const char*) override { disconnected = true; }
    } monitor;
    monitor.init(raw, "inproc://oversized-monitor", ZMQ_EVENT_DISCONNECTED);
    raw.connect(endpoint_);
    std::string huge(static_cast<size_t>(ipc::kMaxMessageBytes) + 1024, 'x');
    std::vector<zmq::message_t> msgs;
    msgs.emplace_back(huge.data(), huge.size());
    msgs.emplace_back(huge.data(), 8);
    zmq::send_multipart(raw, msgs);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!monitor.disconnected && std::chrono::steady_clock::now() < deadline) monitor.check_event(100);
    EXPECT_TRUE(monitor.disconnected) << "the server kept a connection that sent an oversized message";
    EXPECT_EQ(server.droppedMessages(), 4u) << "the oversized message reached the server's decoder";
  }
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "still here", ipc::deadlineIn(2s)), "still here");
}

// A reply whose results are not a valid Cap'n Proto message (a segment table promising words
// that are not there) is a berth Error for the caller, not a kj::Exception that nothing
// catches; a reply whose header is malformed is dropped and the call ends at its deadline.
TEST_F(IpcTest, AMalformedReplyIsAnErrorForTheCallerNotAnUncaughtException) {
  zmq::socket_t fake(context_, zmq::socket_type::router);
  fake.set(zmq::sockopt::linger, 0);
  fake.bind(endpoint_);
  std::thread server([&] {
    for (int call = 0; call < 2; ++call) {
      std::vector<zmq::message_t> frames;
      fake.set(zmq::sockopt::rcvtimeo, 5000);
      if (!zmq::recv_multipart(fake, std::back_inserter(frames)) || frames.size() != 3) return;
      ipc::MessageIn header(frames[1]);
      uint64_t requestId = header.root<ipc::wire::CallHeader>().getRequestId();
      std::vector<zmq::message_t> reply;
      reply.emplace_back(frames[0].data(), frames[0].size());
      if (call == 0) {
        capnp::MallocMessageBuilder mb;
        auto rh = mb.initRoot<ipc::wire::ReplyHeader>();
        rh.setRequestId(requestId);
        rh.setOk();
        reply.push_back(ipc::encode(mb));
        // One segment of 16 words announced, none sent.
        const char garbage[16] = {0, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
        reply.emplace_back(garbage, sizeof garbage);
      } else {
        const char garbage[8] = {0, 0, 0, 0, 64, 0, 0, 0};  // a header that cannot be read
        reply.emplace_back(garbage, sizeof garbage);
      }
      zmq::send_multipart(fake, reply);
    }
  });
  ipc::RpcClient client(context_, endpoint_);
  try {
    echo(client, "x", ipc::deadlineIn(5s));
    ADD_FAILURE() << "a malformed reply was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    EXPECT_NE(std::string(e.what()).find("malformed reply"), std::string::npos) << e.what();
  }
  try {
    echo(client, "y", ipc::deadlineIn(1s));
    ADD_FAILURE() << "a reply with a malformed header was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::deadlineExceeded) << e.what();
  }
  server.join();
}

// Calls that mostly wait (a container wait holds its call for seconds) run as long polls, each
// on a thread of its own: eight of them on a server with two workers leave the workers free,
// so a worker call is answered while all eight are still waiting.
TEST_F(IpcTest, LongPollsNeverHoldTheWorkersOtherCallsNeed) {
  ipc::RpcServer::Options options;
  options.workers = 2;
  ipc::RpcServer server(context_, endpoint_, options);
  std::atomic<int> waiting{0}, finished{0};
  std::atomic<bool> release{false};
  server.implements<testing::Echo>();
  server.handle(
      echoMethod(),
      [](testing::Echo::EchoParams::Reader p, testing::Echo::EchoResults::Builder r) { r.setText(p.getText()); },
      ipc::RpcServer::Dispatch::worker);
  server.handle(
      sleepMethod(),
      [&](testing::Echo::SleepParams::Reader p, testing::Echo::SleepResults::Builder) {
        ++waiting;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(p.getMs());
        while (!release && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(5ms);
        ++finished;
      },
      ipc::RpcServer::Dispatch::longPoll);
  server.handle(failMethod(), [](testing::Echo::FailParams::Reader, testing::Echo::FailResults::Builder) {});
  server.handle(testing::blobMethod(), [](testing::Echo::BlobParams::Reader, testing::Echo::BlobResults::Builder) {});
  server.handle(peekMethod(), [](testing::Echo::PeekParams::Reader, testing::Echo::PeekResults::Builder) {});
  server.start();
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) {
    callers.emplace_back([&] {
      ipc::RpcClient client(context_, endpoint_);
      client.call(sleepMethod(), ipc::deadlineIn(30s), [](testing::Echo::SleepParams::Builder p) { p.setMs(20000); });
    });
  }
  ReleaseAndJoin releaseAll{release, callers};
  ASSERT_TRUE(test::waitFor([&] { return waiting == 8; }, 10s)) << waiting << " of 8 long polls started";
  EXPECT_EQ(server.longPollsInProgress(), 8u);
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "not starved", ipc::deadlineIn(5s)), "not starved");
  EXPECT_EQ(finished, 0) << "the worker call was answered only after the long polls ended";
}

// The worker pool holds one standing worker while idle, grows with the calls waiting for a
// worker up to its bound (never past it), and shrinks back once the extra workers idle.
TEST_F(IpcTest, TheWorkerPoolGrowsWithTheCallsWaitingUpToItsBoundAndShrinksWhenIdle) {
  ipc::RpcServer::Options options;
  options.workers = 6;
  options.standingWorkers = 1;
  options.workerIdle = 300ms;
  ipc::RpcServer server(context_, endpoint_, options);
  std::atomic<int> inHandler{0}, mostAtOnce{0}, finished{0};
  std::atomic<bool> release{false};
  server.implements<testing::Echo>();
  server.handle(
      echoMethod(),
      [](testing::Echo::EchoParams::Reader p, testing::Echo::EchoResults::Builder r) { r.setText(p.getText()); },
      ipc::RpcServer::Dispatch::worker);
  server.handle(
      sleepMethod(),
      [&](testing::Echo::SleepParams::Reader, testing::Echo::SleepResults::Builder) {
        int now = ++inHandler;
        for (int seen = mostAtOnce; now > seen && !mostAtOnce.compare_exchange_weak(seen, now);) {
        }
        while (!release) std::this_thread::sleep_for(2ms);
        --inHandler;
        ++finished;
      },
      ipc::RpcServer::Dispatch::worker);
  server.handle(failMethod(), [](testing::Echo::FailParams::Reader, testing::Echo::FailResults::Builder) {});
  server.handle(testing::blobMethod(), [](testing::Echo::BlobParams::Reader, testing::Echo::BlobResults::Builder) {});
  server.handle(peekMethod(), [](testing::Echo::PeekParams::Reader, testing::Echo::PeekResults::Builder) {});
  server.start();
  EXPECT_EQ(server.workerThreads(), 1u) << "an idle server keeps only its standing worker";

  std::vector<std::thread> callers;
  ReleaseAndJoin releaseAll{release, callers};
  for (int i = 0; i < 10; ++i) {
    callers.emplace_back([&] {
      ipc::RpcClient client(context_, endpoint_);
      client.call(sleepMethod(), ipc::deadlineIn(30s), [](testing::Echo::SleepParams::Builder p) { p.setMs(1); });
    });
  }
  ASSERT_TRUE(test::waitFor([&] { return inHandler == 6; }, 10s)) << inHandler << " calls on workers, bound 6";
  std::this_thread::sleep_for(200ms);  // time for a seventh worker, were the bound not held
  EXPECT_EQ(mostAtOnce, 6);
  EXPECT_EQ(server.workerThreads(), 6u);
  release = true;
  ASSERT_TRUE(test::waitFor([&] { return finished == 10; }, 10s)) << finished << " of 10 calls finished";
  EXPECT_TRUE(test::waitFor([&] { return server.workerThreads() == 1; }, 5s))
      << server.workerThreads() << " workers left after the load ended";
  std::this_thread::sleep_for(2 * options.workerIdle);  // the standing worker stays
  EXPECT_EQ(server.workerThreads(), 1u);
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "still served", ipc::deadlineIn(5s)), "still served");
}

// A server whose sleep calls stay in their handlers until `release`, counted in `inHandler`,
// with as many workers as a burst needs (the extra ones gone 100 ms after it, a socket each).
struct HeldCallsServer {
  struct Counts {
    std::atomic<int> inHandler{0};
    std::atomic<bool> release{false};
  } counts;
  ipc::RpcServer server;

  HeldCallsServer(zmq::context_t& context, const std::string& endpoint, size_t workers)
      : server(context, endpoint, ipc::RpcServer::Options{workers, 1, 100ms}) {
    server.implements<testing::Echo>();
    server.handle(echoMethod(), [](testing::Echo::EchoParams::Reader p, testing::Echo::EchoResults::Builder r) {
      r.setText(p.getText());
    });
    server.handle(
        sleepMethod(),
        [this](testing::Echo::SleepParams::Reader, testing::Echo::SleepResults::Builder) {
          ++counts.inHandler;
          while (!counts.release) std::this_thread::sleep_for(2ms);
        },
        ipc::RpcServer::Dispatch::worker);
    server.handle(failMethod(), [](testing::Echo::FailParams::Reader, testing::Echo::FailResults::Builder) {});
    server.handle(testing::blobMethod(), [](testing::Echo::BlobParams::Reader, testing::Echo::BlobResults::Builder) {});
    server.handle(peekMethod(), [](testing::Echo::PeekParams::Reader, testing::Echo::PeekResults::Builder) {});
    server.start();
  }
};

// This process's open descriptors: both ends of every connection of these tests.
int openDescriptors() {
  return static_cast<int>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}));
}

// A burst of concurrent calls opens a socket per call in flight; afterwards the client keeps
// only a few idle (each would reconnect, and hold descriptors and buffers, until the client
// ends). Counted by this process's descriptors, the server's side of each connection included.
TEST_F(IpcTest, AfterABurstOfConcurrentCallsTheClientKeepsOnlyAFewIdleSockets) {
  HeldCallsServer held(context_, endpoint_, 32);
  auto& inHandler = held.counts.inHandler;
  auto& release = held.counts.release;
  auto descriptors = openDescriptors;
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "warm", ipc::deadlineIn(5s)), "warm");
  int before = descriptors();

  std::vector<std::thread> callers;
  ReleaseAndJoin releaseAll{release, callers};
  for (int i = 0; i < 24; ++i) {
    callers.emplace_back([&] {
      client.call(sleepMethod(), ipc::deadlineIn(30s), [](testing::Echo::SleepParams::Builder p) { p.setMs(1); });
    });
  }
  ASSERT_TRUE(test::waitFor([&] { return inHandler == 24; }, 10s)) << inHandler << " of 24 calls in their handlers";
  int during = descriptors();
  EXPECT_GE(during - before, 24 * 2) << "each call in flight holds a connection: " << before << " then " << during;
  release = true;
  for (auto& t : callers) t.join();
  callers.clear();
  // ZeroMQ closes the connections of the sockets let go asynchronously. A connection holds about
  // six descriptors here (the client's socket and its monitor, the server's end): 24 held 138.
  bool fewLeft = test::waitFor([&] { return descriptors() - before <= 8 * 6; }, 5s);
  EXPECT_TRUE(fewLeft) << before << " descriptors before the burst, " << during << " during, " << descriptors()
                       << " after";
  EXPECT_EQ(echo(client, "still served", ipc::deadlineIn(5s)), "still served");
}

// A burst followed by silence: no later call releases a socket, so the sweep that every service
// and berth-api run (closeIdle, from the MemoryReturn thread) closes them once idle for their life.
TEST_F(IpcTest, SocketsLeftIdleByABurstAreClosedByTheSweepWithoutAnotherCall) {
  HeldCallsServer held(context_, endpoint_, 8);
  auto& inHandler = held.counts.inHandler;
  auto& release = held.counts.release;
  auto descriptors = openDescriptors;
  ipc::RpcClient client(context_, endpoint_);
  EXPECT_EQ(echo(client, "warm", ipc::deadlineIn(5s)), "warm");
  int before = descriptors();  // one socket, kept however long idle
  auto burst = [&](int calls) {
    inHandler = 0;
    release = false;
    std::vector<std::thread> callers;
    ReleaseAndJoin releaseAll{release, callers};
    for (int i = 0; i < calls; ++i) {
      callers.emplace_back([&] {
        client.call(sleepMethod(), ipc::deadlineIn(30s), [](testing::Echo::SleepParams::Builder p) { p.setMs(1); });
      });
    }
    ASSERT_TRUE(test::waitFor([&] { return inHandler == calls; }, 10s)) << inHandler << " of " << calls;
  };
  burst(6);
  ASSERT_EQ(client.idleSockets(), 6u) << "each call of the burst left its socket";
  int afterBurst = descriptors();
  EXPECT_GE(afterBurst - before, 5 * 3) << "an idle socket holds its connection's descriptors";
  auto now = ipc::Clock::now();
  EXPECT_EQ(client.closeIdle(now), 0u) << "none idle for its life yet";
  EXPECT_EQ(client.idleSockets(), 6u);
  EXPECT_EQ(client.closeIdle(now + ipc::RpcClient::kIdleLife + 1s), 5u) << "all but the most recently used";
  EXPECT_EQ(client.idleSockets(), 1u);
  // ZeroMQ closes the connections asynchronously; with them go the client's and the server's
  // descriptors, to within 2 (the server's workers, each with a socket, come and go with calls).
  EXPECT_TRUE(test::waitFor([&] { return descriptors() <= before + 2; }, 5s))
      << before << " descriptors before the burst, " << afterBurst << " after it, " << descriptors()
      << " after the sweep";

  // The process-wide sweep reaches this client too.
  burst(3);
  ASSERT_EQ(client.idleSockets(), 3u);
  EXPECT_GE(ipc::RpcClient::closeIdleEverywhere(ipc::Clock::now() + ipc::RpcClient::kIdleLife + 1s), 2u);
  EXPECT_EQ(client.idleSockets(), 1u);
  EXPECT_EQ(echo(client, "still served", ipc::deadlineIn(5s)), "still served");
}

TEST_F(IpcTest, AServerRefusesToStartWithAMethodThatHasNoHandler) {
  ipc::RpcServer server(context_, endpoint_);
  server.implements<testing::Echo>();
  server.handle(echoMethod(), [](testing::Echo::EchoParams::Reader, testing::Echo::EchoResults::Builder) {});
  try {
    server.start();
    FAIL() << "started";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Echo.sleep"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Echo.fail"), std::string::npos) << e.what();
  }
}

TEST_F(IpcTest, PublishedEventsReachSubscribersAndAreRetainedForSinceQueries) {
  std::string eventsEndpoint = "ipc://" + dir_.path() + "/events.sock";
  ipc::EventPublisher publisher(context_, eventsEndpoint);
  ipc::RpcServer server(context_, endpoint_);
  publisher.serveOn(server);
  server.start();

  std::mutex m;
  std::vector<ipc::EngineEvent> received;
  ipc::EventSubscriber subscriber(context_, {eventsEndpoint}, [&](ipc::EngineEvent e) {
    std::lock_guard lock(m);
    received.push_back(std::move(e));
  });
  // PUB/SUB joins asynchronously: publish until the subscriber sees one.
  auto deadline = ipc::Clock::now() + 5s;
  int sent = 0;
  for (;;) {
    publisher.publish({"image", "tag", "sha256:abc", {{"name", "busybox:" + std::to_string(sent++)}}, "local", 0});
    std::this_thread::sleep_for(20ms);
    std::lock_guard lock(m);
    if (!received.empty() || ipc::Clock::now() > deadline) break;
  }
  {
    std::lock_guard lock(m);
    ASSERT_FALSE(received.empty());
    EXPECT_EQ(received.back().type, "image");
    EXPECT_EQ(received.back().action, "tag");
    EXPECT_EQ(received.back().actorId, "sha256:abc");
    ASSERT_EQ(received.back().attributes.size(), 1u);
    EXPECT_GT(received.back().timeNano, 0);
  }
  ipc::RpcClient client(context_, endpoint_);
  auto reply = client.call(ipc::methods::recent(), ipc::deadlineIn(2s), [](ipc::EventSource::RecentParams::Builder p) {
    p.setSinceNano(0);
    p.setUntilNano(0);
  });
  EXPECT_EQ(static_cast<int>(reply.get().getEvents().size()), sent);
  auto none = client.call(ipc::methods::recent(), ipc::deadlineIn(2s), [](ipc::EventSource::RecentParams::Builder p) {
    p.setSinceNano(nowUnixNanos() + 1000000000);
  });
  EXPECT_EQ(none.get().getEvents().size(), 0u);
}

}  // namespace
}  // namespace berth
