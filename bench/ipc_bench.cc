// ipc_bench: one berth RPC (a 100-byte echo through the request/reply layer, server in another
// process) beside a raw ZeroMQ REQ/REP round trip of the same size, in the same run.
//   ipc_bench [--calls N]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "bench/bench_stats.h"
#include "ipc/rpc_client.h"
#include "tests/unit/echo_server.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int calls = 20000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[i + 1]);
  }
  char dirTemplate[] = "/tmp/berth-bench-XXXXXX";
  std::string dir = mkdtemp(dirTemplate);
  std::string rpcEndpoint = "ipc://" + dir + "/rpc.sock", rawEndpoint = "ipc://" + dir + "/raw.sock";

  pid_t server = fork();
  if (server == 0) {
    zmq::context_t context;
    ipc::RpcServer rpc(context, rpcEndpoint);
    testing::registerEcho(rpc);
    rpc.start();
    zmq::socket_t rep(context, zmq::socket_type::rep);
    rep.bind(rawEndpoint);
    for (;;) {
      zmq::message_t m;
      if (!rep.recv(m)) continue;
      rep.send(m, zmq::send_flags::none);
    }
  }

  zmq::context_t context;
  const std::string payload(100, 'b');
  bench::printHeader();

  {
    zmq::socket_t req(context, zmq::socket_type::req);
    req.connect(rawEndpoint);
    bench::Samples s;
    for (int i = 0; i < calls + 1000; ++i) {
      auto start = Clock::now();
      req.send(zmq::buffer(payload), zmq::send_flags::none);
      zmq::message_t reply;
      if (!req.recv(reply)) return 1;
      if (i >= 1000) s.add(Clock::now() - start);  // the first 1000 warm up
    }
    bench::printRow("raw ZeroMQ REQ/REP, ipc://, 100 B", s.percentile(50), s.percentile(99), 1e6 / s.mean());
  }

  ipc::RpcClient client(context, rpcEndpoint);
  auto echo = [&] {
    auto r = client.call(testing::echoMethod(), ipc::deadlineIn(std::chrono::seconds(5)),
                         [&](testing::Echo::EchoParams::Builder p) { p.setText(payload); });
    if (r.get().getText().size() != payload.size()) std::abort();
  };
  {
    bench::Samples s;
    for (int i = 0; i < calls + 1000; ++i) {
      auto start = Clock::now();
      echo();
      if (i >= 1000) s.add(Clock::now() - start);
    }
    bench::printRow("berth RPC (Cap'n Proto over ZeroMQ), 1 caller", s.percentile(50), s.percentile(99), 1e6 / s.mean());
  }
  {
    const int threads = 4;
    std::atomic<long> done{0};
    auto start = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&] {
        for (int i = 0; i < calls / threads; ++i) {
          echo();
          ++done;
        }
      });
    }
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%-44s %10s %10s %12.0f\n", "berth RPC, 4 concurrent callers", "-", "-", static_cast<double>(done) / secs);
  }
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);
  std::string cleanup = "rm -rf " + dir;
  return std::system(cleanup.c_str());
}
