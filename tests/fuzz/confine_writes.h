// For the targets that extract archives as root: a mount namespace of the process's own in
// which every mount is read-only except the scratch directory and the working directory
// (where libFuzzer keeps its corpus and writes crashes). An archive that got past the
// extractor's rules could then not write on the host: its write fails, and the target's own
// checks (nothing outside the extraction directory, no hard link to a file outside it) report
// the escape. Without root it does nothing, and says so.
#pragma once

#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace berth::fuzz {

// mountinfo escapes blanks and backslashes in paths as \ooo.
inline std::string unescapeMountPath(const std::string& raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 3 < raw.size()) {
      out += static_cast<char>(std::stoi(raw.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += raw[i];
    }
  }
  return out;
}

inline void confineWrites(const std::string& scratch) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "confineWrites: not root, the host is not protected from a layer that escapes\n");
    return;
  }
  char cwdBuf[PATH_MAX];
  if (!getcwd(cwdBuf, sizeof cwdBuf)) {
    std::perror("getcwd");
    std::abort();
  }
  std::set<std::string> writable = {scratch, cwdBuf};
  writable.erase("/");
  if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::perror("confineWrites: unshare or make-rprivate");
    std::abort();
  }
  for (const auto& w : writable) {
    if (mount(w.c_str(), w.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      std::perror(("confineWrites: bind " + w).c_str());
      std::abort();
    }
  }
  std::ifstream info("/proc/self/mountinfo");
  int readOnly = 0;
  for (std::string line; std::getline(info, line);) {
    std::istringstream fields(line);
    std::string id, parent, devices, root, point;
    fields >> id >> parent >> devices >> root >> point;
    point = unescapeMountPath(point);
    if (writable.count(point)) continue;
    if (mount(nullptr, point.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0) ++readOnly;
  }
  if (readOnly == 0) {
    std::fprintf(stderr, "confineWrites: no mount could be made read-only\n");
    std::abort();
  }
  // The working directory still points into the mount beneath its new bind mount, now
  // read-only: enter it again, so libFuzzer's relative paths (corpus, crash files) reach the
  // writable one.
  if (chdir(cwdBuf) != 0) {
    std::perror("confineWrites: chdir");
    std::abort();
  }
  // What the confinement promises, checked once: the two directories take files, "/" does not.
  for (const auto& w : std::set<std::string>{scratch, "."}) {
    std::string probe = w + "/.confine-probe";
    FILE* f = std::fopen(probe.c_str(), "w");
    if (!f) {
      std::perror(("confineWrites: " + probe + " is not writable").c_str());
      std::abort();
    }
    std::fclose(f);
    std::remove(probe.c_str());
  }
  if (FILE* f = std::fopen("/.berth-fuzz-confine-probe", "w")) {
    std::fclose(f);
    std::remove("/.berth-fuzz-confine-probe");
    std::fprintf(stderr, "confineWrites: / is still writable\n");
    std::abort();
  }
}

}  // namespace berth::fuzz
