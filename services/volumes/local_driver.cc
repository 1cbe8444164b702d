#include "services/volumes/local_driver.h"

#include <sys/mount.h>

#include <cctype>
#include <cstring>
#include <vector>

#include "common/errors.h"
#include "services/volumes/volume_names.h"

namespace berth::volumes {
namespace {

struct FlagWord {
  const char* word;
  bool clear;
  unsigned long flag;
};

// moby/sys/mount's flag table; "defaults" has no flag and so is passed on as data, as there.
constexpr FlagWord kFlags[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"unbindable", false, MS_UNBINDABLE},
    {"runbindable", false, MS_UNBINDABLE | MS_REC},
    {"private", false, MS_PRIVATE},
    {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},
    {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},
    {"rslave", false, MS_SLAVE | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
};

constexpr unsigned long kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
constexpr unsigned long kPropagationFlags = kPropagation | MS_REC | MS_SILENT;
constexpr unsigned long kBindReadOnly = MS_BIND | MS_RDONLY;

// Go's text for an errno: strerror with a lower-case first letter ("no such file or directory").
std::string goErrno(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string hex(unsigned long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lx", v);
  return buf;
}

// moby/sys/mount's mountError text.
std::string mountErrorText(const std::string& op, const std::string& source, const std::string& target,
                           unsigned long flags, const std::string& data, int err) {
  std::string out = op + " " + (source.empty() ? target : source + ":" + target);
  if (flags != 0) out += ", flags: 0x" + hex(flags);
  if (!data.empty()) out += ", data: " + data;
  return out + ": " + goErrno(err);
}

// The value of password= in `o`, which dockerd masks in its messages.
std::string passwordIn(const std::string& o) {
  size_t start = 0;
  while (start <= o.size()) {
    size_t comma = o.find(',', start);
    std::string word = o.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (word.rfind("password=", 0) == 0) return word.substr(9);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return {};
}

}  // namespace

MountOptions parseMountOptions(const std::string& o) {
  MountOptions out;
  std::vector<std::string> data;
  size_t start = 0;
  for (;;) {
    size_t comma = o.find(',', start);
    std::string word = o.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const FlagWord* hit = nullptr;
    for (const auto& f : kFlags) {
      if (word == f.word) hit = &f;
    }
    if (hit && hit->flag != 0) {
      if (hit->clear) out.flags &= ~hit->flag;
      else out.flags |= hit->flag;
    } else {
      data.push_back(word);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  for (size_t i = 0; i < data.size(); ++i) out.data += (i ? "," : "") + data[i];
  return out;
}

std::optional<int64_t> parseRamInBytes(const std::string& text) {
  // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
  size_t i = 0;
  auto digits = [&] {
    size_t from = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    return i > from;
  };
  if (!digits()) return std::nullopt;
  size_t dots = 0;
  while (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return std::nullopt;
    ++dots;
  }
  std::string number = text.substr(0, i);
  if (i < text.size() && text[i] == ' ') ++i;
  double multiplier = 1;
  if (i < text.size()) {
    const char* units = "kmgtp";
    const char* u = std::strchr(units, std::tolower(static_cast<unsigned char>(text[i])));
    if (u && *u) {
      for (const char* p = units; p <= u; ++p) multiplier *= 1024;
      ++i;
    }
  }
  if (i < text.size() && (text[i] == 'i' || text[i] == 'I')) ++i;
  if (i < text.size() && (text[i] == 'b' || text[i] == 'B')) ++i;
  if (i != text.size() || dots > 1) return std::nullopt;  // "1.2.3" matches Go's pattern but fails ParseFloat
  return static_cast<int64_t>(std::stod(number) * multiplier);
}

void LocalDriver::validate(const Options& options) {
  for (const auto& [key, value] : options) {
    if (key != "type" && key != "o" && key != "device" && key != "size") {
      throw Error(ErrorKind::invalid, "invalid option: " + goQuote(key));
    }
  }
  auto has = [&](const char* key) { return options.count(key) > 0; };
  if ((has("type") || has("o")) && !has("device")) throw Error(ErrorKind::invalid, "missing required option: \"device\"");
  if ((has("device") || has("o")) && !has("type")) throw Error(ErrorKind::invalid, "missing required option: \"type\"");
  if (auto it = options.find("size"); it != options.end()) {
    auto size = parseRamInBytes(it->second);
    if (!size) throw Error(ErrorKind::invalid, "invalid size: '" + it->second + "'");
    if (*size > 0) throw Error(ErrorKind::invalid, "quota size requested but no quota support");
  }
}

bool LocalDriver::needsMount(const Options& options) {
  auto type = options.find("type");
  auto device = options.find("device");
  return (type != options.end() && !type->second.empty()) || (device != options.end() && !device->second.empty());
}

void LocalDriver::mount(const Options& options, const std::string& path) {
  auto get = [&](const char* key) {
    auto it = options.find(key);
    return it == options.end() ? std::string() : it->second;
  };
  std::string device = get("device"), type = get("type"), o = get("o");
  auto fail = [&](std::string why) {
    if (std::string pw = passwordIn(o); !pw.empty()) {
      if (auto at = why.find("password=" + pw); at != std::string::npos) why.replace(at, 9 + pw.size(), "password=********");
    }
    throw Error(ErrorKind::internal, "error while mounting volume '" + path + "': " + why);
  };
  if (device.empty()) fail("missing device in volume options");
  // moby/sys/mount's mount(): the mount proper (skipped for a remount without data, where
  // device "" and "none" count as remounts), then the propagation, then a read-only bind's
  // remount.
  auto [flags, data] = parseMountOptions(o);
  unsigned long plain = flags & ~kPropagation;
  bool remount = (flags & MS_REMOUNT) || device == "none";
  if (!remount || !data.empty()) {
    if (int err = mounter_.mount(device, path, type, plain, data)) {
      fail("failed to mount local volume: " + mountErrorText("mount", device, path, plain, data, err));
    }
  }
  if (flags & kPropagation) {
    if (int err = mounter_.mount("", path, "", flags & kPropagationFlags, "")) {
      fail("failed to mount local volume: " + mountErrorText("remount", "", path, flags & kPropagationFlags, "", err));
    }
  }
  if ((plain & kBindReadOnly) == kBindReadOnly) {
    if (int err = mounter_.mount("", path, "", plain | MS_REMOUNT, "")) {
      fail("failed to mount local volume: " + mountErrorText("remount-ro", "", path, plain | MS_REMOUNT, "", err));
    }
  }
}

void LocalDriver::unmount(const std::string& path) {
  int err = mounter_.unmount(path, MNT_DETACH);
  if (err == 0 || err == EINVAL) return;  // EINVAL: nothing mounted there
  throw Error(ErrorKind::internal, mountErrorText("umount", "", path, MNT_DETACH, "", err));
}

}  // namespace berth::volumes
