// tcp hosts: TLS with client-certificate verification, and plain tcp only on loopback.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/engine.h"
#include "tests/support/process.h"
#include "tests/support/registry.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

void openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv);
  ASSERT_EQ(r.exitCode, 0) << r.err;
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, as `docker --tlsverify` uses.
void makeCertificates(const std::string& d) {
  openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/ca-key.pem", "-out", d + "/ca.pem",
           "-days", "2", "-subj", "/CN=berth test CA"});
  std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
  std::ofstream(d + "/client.ext") << "extendedKeyUsage=clientAuth\n";
  for (std::string who : {"server", "client"}) {
    openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/" + who + "-key.pem", "-out",
             d + "/" + who + ".csr", "-subj", "/CN=" + who});
    openssl({"x509", "-req", "-in", d + "/" + who + ".csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca-key.pem",
             "-CAcreateserial", "-out", d + "/" + who + "-cert.pem", "-days", "2", "-extfile", d + "/" + who + ".ext"});
  }
}

// Certificates in a directory of their own and an engine listening with --tlsverify on a free
// loopback port.
struct TlsSetup {
  TempDir dir{"berth-certs"};
  int port = freeLoopbackPort();
  std::string host = "tcp://127.0.0.1:" + std::to_string(port);
  TlsSetup() { makeCertificates(dir.path()); }
  const std::string& certs() const { return dir.path(); }
  Engine::Options engineOptions() const {
    Engine::Options o;
    o.extraArgs = {"-H", host, "--tlsverify", "--tlscacert", certs() + "/ca.pem", "--tlscert",
                   certs() + "/server-cert.pem", "--tlskey", certs() + "/server-key.pem"};
    return o;
  }
};

TEST(TlsTest, ATlsverifyHostServesClientsWithACertificateAndRefusesOthers) {
  TlsSetup tls;
  const std::string& c = tls.certs();
  int port = tls.port;
  const std::string& host = tls.host;
  Engine engine(tls.engineOptions());
  auto r = run({"docker", "--tlsverify", "--tlscacert", c + "/ca.pem", "--tlscert", c + "/client-cert.pem",
                "--tlskey", c + "/client-key.pem", "-H", host, "version", "--format", "{{.Server.APIVersion}}"},
               {"DOCKER_CONFIG=" + engine.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "1.43\n");
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/_ping";
  // The same request with the client certificate succeeds, so the refusals below are the
  // certificates' doing and nothing else's.
  r = run({"curl", "-sS", "--max-time", "5", "--cacert", c + "/ca.pem", "--cert", c + "/client-cert.pem", "--key",
           c + "/client-key.pem", url});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "OK");
  // Without a client certificate the server ends the handshake with TLS 1.3's "certificate
  // required" alert, and the client reads it (curl's exit code 56: failure receiving data).
  r = run({"curl", "-sS", "--max-time", "5", "--cacert", c + "/ca.pem", url});
  EXPECT_EQ(r.exitCode, 56) << r.err;
  EXPECT_NE(r.err.find("certificate required"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // A client certificate from another CA is refused as unknown.
  TempDir other("berth-other-ca");
  makeCertificates(other.path());
  std::string x = other.path();
  r = run({"curl", "-sS", "--max-time", "5", "--cacert", c + "/ca.pem", "--cert", x + "/client-cert.pem", "--key",
           x + "/client-key.pem", url});
  EXPECT_EQ(r.exitCode, 56) << r.err;
  EXPECT_NE(r.err.find("unknown ca"), std::string::npos) << r.err;
  r = run({"docker", "--tlsverify", "--tlscacert", c + "/ca.pem", "--tlscert", x + "/client-cert.pem", "--tlskey",
           x + "/client-key.pem", "-H", host, "version", "--format", "{{.Server.APIVersion}}"},
          {"DOCKER_CONFIG=" + engine.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("unknown certificate authority"), std::string::npos) << r.err;
  // And a client that trusts only the other CA refuses berth's server certificate.
  r = run({"docker", "--tlsverify", "--tlscacert", x + "/ca.pem", "--tlscert", c + "/client-cert.pem", "--tlskey",
           c + "/client-key.pem", "-H", host, "version", "--format", "{{.Server.APIVersion}}"},
          {"DOCKER_CONFIG=" + engine.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("certificate signed by unknown authority"), std::string::npos) << r.err;
  // The unix socket beside it is still plain.
  EXPECT_EQ(engine.docker({"version"}).exitCode, 0);
  EXPECT_TRUE(mapsLibrary(engine.children().at("api").pid, "libssl.so.3"));
}

// Over TLS one connection carries exec's stdin and stdout at once (a reader thread and a
// writer on one TLS session): four `docker exec -i … cat` in parallel each get back exactly
// the 2 MB they sent. And a client that opens the port and never completes the handshake is
// closed within the handshake deadline (10 s), not held.
TEST(TlsTest, ExecStdinAndStdoutShareATlsConnectionUnderLoadAndAStalledHandshakeIsClosed) {
  TlsSetup tls;
  const std::string& c = tls.certs();
  int port = tls.port;
  const std::string& host = tls.host;
  Engine engine(tls.engineOptions());
  TempDir work("berth-tls-exec");
  auto r = engine.docker({"load", "-i", busyboxArchive(work.path(), "berth-test/busybox:1")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine.docker({"run", "-d", "--name", "echoer", "--pull", "never", "berth-test/busybox:1", "sleep", "300"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  struct Remove {
    Engine& e;
    ~Remove() { e.docker({"rm", "-f", "echoer"}); }
  } remove{engine};
  std::string input;
  for (int i = 0; input.size() < (2u << 20); ++i) input += "line " + std::to_string(i) + " of the stdin sent over TLS\n";
  std::vector<CommandResult> results(4);
  std::vector<std::thread> clients;
  for (size_t i = 0; i < results.size(); ++i) {
    clients.emplace_back([&, i] {
      results[i] = run({"docker", "--tlsverify", "--tlscacert", c + "/ca.pem", "--tlscert", c + "/client-cert.pem",
                        "--tlskey", c + "/client-key.pem", "-H", host, "exec", "-i", "echoer", "cat"},
                       {"DOCKER_CONFIG=" + engine.root() + "/docker-config"}, 120s, input);
    });
  }
  for (auto& t : clients) t.join();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].exitCode, 0) << i << ": " << results[i].err;
    EXPECT_EQ(results[i].out.size(), input.size()) << i;
    EXPECT_TRUE(results[i].out == input) << i << ": the output differs from the input";
  }
  // A TCP client that never starts the handshake.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval limit{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  auto start = std::chrono::steady_clock::now();
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, 0);
  auto waited = std::chrono::steady_clock::now() - start;
  ::close(fd);
  EXPECT_LE(n, 0) << "the server sent something to a client that sent nothing";
  EXPECT_LT(waited, 25s) << "the stalled handshake was not closed (the recv timed out instead)";
  EXPECT_GE(waited, 5s) << "closed at once, not at the handshake deadline";
}

TEST(TlsTest, PlainTcpServesOnLoopbackAndIsRefusedElsewhere) {
  int port = freeLoopbackPort();
  Engine::Options o;
  o.extraArgs = {"-H", "tcp://127.0.0.1:" + std::to_string(port)};
  Engine engine(o);
  auto r = run({"docker", "-H", "tcp://127.0.0.1:" + std::to_string(port), "version", "--format", "{{.Server.Version}}"},
               {"DOCKER_CONFIG=" + engine.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "0.1.0\n");
  // Without TLS berth-api never opens OpenSSL (1.2 MB of PSS).
  EXPECT_FALSE(mapsLibrary(engine.children().at("api").pid, "libssl.so.3"));
  EXPECT_FALSE(mapsLibrary(engine.children().at("api").pid, "libcrypto.so.3"));

  TempDir dir;
  r = run({binDir() + "/berth-supervisor", "--data-root", dir.path() + "/data", "--exec-root", dir.path() + "/run",
           "-H", "tcp://0.0.0.0:" + std::to_string(freeLoopbackPort())},
          {}, 20s);
  EXPECT_EQ(r.exitCode, 2) << "berth's exit code for a configuration it refuses";
  EXPECT_NE(r.err.find("without TLS"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth::test
