// udp_sink PORT: receives one UDP datagram on PORT (every address) and prints it. Linked
// statically so a test can bind-mount it into a busybox container, whose busybox has no UDP
// server; the network tests use it to see a published UDP port deliver.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: udp_sink PORT\n");
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("udp_sink: bind");
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);
  char buf[2048];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  if (n < 0) {
    std::perror("udp_sink: recv");
    return 1;
  }
  std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
  return 0;
}
