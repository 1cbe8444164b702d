#include "services/containerd-bridge/user_lookup.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "common/errors.h"

namespace berth::bridge {
namespace {

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorKind::invalid, message); }

bool allDigits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// A number in a passwd or group file (longer ones are not ids and the line is skipped).
bool isNumber(const std::string& s) { return allDigits(s) && s.size() < 11; }

struct FileEntry {
  std::string name;
  uint32_t id = 0;
  uint32_t gid = 0;                // passwd: primary group
  std::vector<std::string> members;  // group: members
};

// The container's etc/passwd or etc/group, resolved inside `rootfs` (its symlinks cannot
// name a host file), only when it is a regular file of sane size (a FIFO or a device planted
// there must not block or flood the reader). Missing or refused: no entries.
std::string readContainerFile(const std::string& rootfs, const std::string& relative) {
  int root = ::open(rootfs.empty() ? "/" : rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return "";
  open_how how{};
  how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how));
  ::close(root);
  if (fd < 0) return "";
  std::string text;
  struct stat st {};
  constexpr off_t kMaxBytes = 16 << 20;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= kMaxBytes) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);
  }
  ::close(fd);
  return text;
}

std::vector<FileEntry> readColonFile(const std::string& rootfs, const std::string& relative, bool passwd) {
  std::vector<FileEntry> out;
  std::istringstream in(readContainerFile(rootfs, relative));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string part;
    while (std::getline(ss, part, ':')) f.push_back(part);
    if (f.size() < (passwd ? 4u : 3u) || !isNumber(f[2])) continue;
    FileEntry e;
    e.name = f[0];
    e.id = static_cast<uint32_t>(std::stoul(f[2]));
    if (passwd && isNumber(f[3])) e.gid = static_cast<uint32_t>(std::stoul(f[3]));
    if (!passwd && f.size() > 3) {
      std::stringstream ms(f[3]);
      while (std::getline(ms, part, ',')) {
        if (!part.empty()) e.members.push_back(part);
      }
    }
    out.push_back(e);
  }
  return out;
}

// A numeric uid or gid the client gave, in runc's range (moby/sys/user's 0 to 2^31-1): a larger
// one would wrap in 32 bits (4294967296 is 0, root) while inspect still shows the number.
uint32_t clientId(const std::string& text) {
  if (text.size() > 10 || std::stoull(text) > 2147483647ULL) invalid("uids and gids must be in range 0-2147483647");
  unsigned long long id = std::stoull(text);
  return static_cast<uint32_t>(id);
}

}  // namespace

ResolvedUser resolveUser(const std::string& rootfs, const std::string& user, const std::vector<std::string>& groupAdd) {
  ResolvedUser r;
  std::string name = user, group;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    name = user.substr(0, colon);
    group = user.substr(colon + 1);
  }
  auto passwd = readColonFile(rootfs, "etc/passwd", true);
  auto groups = readColonFile(rootfs, "etc/group", false);
  std::string userName;
  if (name.empty()) {
    r.uid = 0;
    userName = "root";
    for (const auto& p : passwd) {
      if (p.id == 0) r.gid = p.gid;
    }
  } else if (allDigits(name)) {
    r.uid = clientId(name);
    for (const auto& p : passwd) {
      if (p.id == r.uid) {
        r.gid = p.gid;
        userName = p.name;
        break;
      }
    }
  } else {
    auto it = std::find_if(passwd.begin(), passwd.end(), [&](const FileEntry& p) { return p.name == name; });
    if (it == passwd.end()) invalid("unable to find user " + name + ": no matching entries in passwd file");
    r.uid = it->id;
    r.gid = it->gid;
    userName = it->name;
  }
  if (!group.empty()) {
    if (allDigits(group)) {
      r.gid = clientId(group);
    } else {
      auto it = std::find_if(groups.begin(), groups.end(), [&](const FileEntry& g) { return g.name == group; });
      if (it == groups.end()) invalid("unable to find group " + group + ": no matching entries in group file");
      r.gid = it->id;
    }
  }
  // The primary group is the first supplementary group, as dockerd has it since 20.10.18
  // (CVE-2022-36109: without it, a process keeps no group it could drop); seen in the reference
  // engine's spec for -u 1000: additionalGids [0].
  r.additionalGids.push_back(r.gid);
  if (group.empty() && !userName.empty()) {
    // Supplementary groups the user belongs to, as dockerd adds them.
    for (const auto& g : groups) {
      if (g.id != r.gid && std::find(g.members.begin(), g.members.end(), userName) != g.members.end()) {
        r.additionalGids.push_back(g.id);
      }
    }
  }
  for (const auto& add : groupAdd) {
    uint32_t gid;
    if (allDigits(add)) {
      gid = clientId(add);
    } else {
      auto it = std::find_if(groups.begin(), groups.end(), [&](const FileEntry& g) { return g.name == add; });
      if (it == groups.end()) invalid("unable to find group " + add + ": no matching entries in group file");
      gid = it->id;
    }
    if (std::find(r.additionalGids.begin(), r.additionalGids.end(), gid) == r.additionalGids.end()) {
      r.additionalGids.push_back(gid);
    }
  }
  return r;
}

}  // namespace berth::bridge
