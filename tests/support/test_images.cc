#include "tests/support/test_images.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>

#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::test {

std::string busyboxArchive(const std::string& dir, const std::string& tag, size_t extraBytes) {
  std::string busybox = readText("/bin/busybox");
  if (busybox.empty()) throw std::runtime_error("/bin/busybox is missing: install busybox-static");
  TarBuilder base;
  base.dir("bin").file("bin/busybox", busybox, 0755);
  auto applets = run({"/bin/busybox", "--list"});
  std::istringstream in(applets.out);
  std::string applet;
  while (std::getline(in, applet)) {
    if (!applet.empty() && applet != "busybox") base.symlink("bin/" + applet, "busybox");
  }
  base.dir("etc").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
  base.file("etc/group", "root:x:0:\nnogroup:x:65534:\n").dir("tmp", 01777).dir("root", 0700);
  std::string safeName;
  for (char c : tag) safeName += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  std::vector<std::string> layers = {dir + "/" + safeName + "-base.tar"};
  base.write(layers[0]);
  if (extraBytes > 0) {
    std::string data(extraBytes, '\0');
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = read(fd, data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fd);
    layers.push_back(dir + "/" + safeName + "-data.tar");
    TarBuilder().dir("data").file("data/blob", data).write(layers[1]);
  }
  std::string path = dir + "/" + safeName + ".tar";
  makeDockerArchive(path, layers, {tag}, dir);
  return path;
}

}  // namespace berth::test
