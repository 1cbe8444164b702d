#include "services/containerd-bridge/oci_spec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/go_json_types.h"
#include "services/containerd-bridge/seccomp_profile.h"
#include "common/json_text.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorKind::invalid, message); }

std::vector<std::string> strings(const json& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) invalid(what + " must be a list of strings");
  for (const auto& e : v) {
    if (!e.is_string()) invalid(what + " must be a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

// A number of the host config. Create and update refuse what int64 does not hold in dockerd's
// words (request_types.h); a record is checked again here, where the spec reads it.
int64_t integerValue(const json& v, const std::string& what) {
  if (v.is_null()) return 0;
  auto n = int64Of(v);
  if (!n) invalid(what + " must be an integer");
  return *n;
}

}  // namespace

const std::vector<std::string>& defaultCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  return caps;
}

namespace {

const std::vector<std::string>& allCapabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
      "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
      "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  return caps;
}

// "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN; "ALL" stays "ALL".
std::string normalizeCapability(std::string c) {
  std::transform(c.begin(), c.end(), c.begin(), ::toupper);
  if (c == "ALL") return c;
  if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
  const auto& all = allCapabilities();
  if (std::find(all.begin(), all.end(), c) == all.end()) invalid("unknown capability: \"" + c + "\"");
  return c;
}

std::vector<std::string> capabilities(const json& host) {
  if (host.value("Privileged", false)) return grantableCapabilities();
  std::vector<std::string> add, drop;
  for (const auto& c : strings(host.value("CapAdd", json()), "CapAdd")) add.push_back(normalizeCapability(c));
  for (const auto& c : strings(host.value("CapDrop", json()), "CapDrop")) drop.push_back(normalizeCapability(c));
  std::vector<std::string> caps;
  bool addAll = std::find(add.begin(), add.end(), "ALL") != add.end();
  bool dropAll = std::find(drop.begin(), drop.end(), "ALL") != drop.end();
  if (addAll) caps = grantableCapabilities();
  else if (!dropAll) caps = defaultCapabilities();
  for (const auto& c : add) {
    if (c != "ALL" && std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
  }
  if (!dropAll) {
    for (const auto& c : drop) caps.erase(std::remove(caps.begin(), caps.end(), c), caps.end());
  }
  return caps;
}

json standardMounts(bool privileged) {
  json mounts = json::array();
  mounts.push_back({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"},
                    {"options", {"nosuid", "noexec", "nodev"}}});
  mounts.push_back({{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                    {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}});
  mounts.push_back({{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
                    {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}});
  mounts.push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                    {"options", {"nosuid", "noexec", "nodev", privileged ? "rw" : "ro"}}});
  mounts.push_back({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
                    {"options", {"nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"}}});
  mounts.push_back({{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
                    {"options", {"nosuid", "noexec", "nodev"}}});
  mounts.push_back({{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
                    {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}}});
  return mounts;
}

// "-v SRC:DST[:OPTIONS]": OPTIONS among ro, rw, z, Z, and a propagation mode.
// One --mount entry (HostConfig.Mounts): bind and tmpfs here; volumes come with the volumes service.
json mountOption(const json& m) {
  if (!m.is_object()) invalid("invalid mount config: not an object");
  std::string type = m.value("Type", "");
  std::string target = m.value("Target", "");
  if (target.empty() || target.front() != '/') invalid("invalid mount config for type \"" + type + "\": invalid mount path: '" + target + "' mount path must be absolute");
  bool ro = m.value("ReadOnly", false);
  if (type == "bind") {
    std::string source = m.value("Source", "");
    if (source.empty() || source.front() != '/') invalid("invalid mount config for type \"bind\": invalid mount path: '" + source + "' mount path must be absolute");
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) {
      invalid("invalid mount config for type \"bind\": bind source path does not exist: " + source);
    }
    std::string propagation = "rprivate";
    if (m.contains("BindOptions") && m["BindOptions"].is_object()) propagation = m["BindOptions"].value("Propagation", "rprivate");
    if (propagation.empty()) propagation = "rprivate";
    return {{"destination", target}, {"type", "bind"}, {"source", source}, {"options", {"rbind", ro ? "ro" : "rw", propagation}}};
  }
  if (type == "tmpfs") {
    std::vector<std::string> options = {"nosuid", "nodev", "noexec"};
    if (ro) options.push_back("ro");
    if (m.contains("TmpfsOptions") && m["TmpfsOptions"].is_object()) {
      const auto& t = m["TmpfsOptions"];
      if (int64_t size = integerValue(t.value("SizeBytes", json()), "SizeBytes"); size > 0) {
        options.push_back("size=" + std::to_string(size));
      }
      if (int64_t mode = integerValue(t.value("Mode", json()), "Mode"); mode > 0) {
        char text[32];
        snprintf(text, sizeof text, "mode=%llo", static_cast<unsigned long long>(mode));
        options.push_back(text);
      }
    }
    return {{"destination", target}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", options}};
  }
  invalid("mount type \"" + type + "\" is not supported yet");
}

json bindMount(const std::string& spec) {
  std::vector<std::string> parts;
  std::stringstream ss(spec);
  std::string part;
  while (std::getline(ss, part, ':')) parts.push_back(part);
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    invalid("invalid volume specification: '" + spec + "'");
  }
  if (parts[0].front() != '/') invalid("invalid mount config: bind source " + parts[0] + " must be an absolute path");
  if (parts[1].front() != '/') invalid("invalid mount config: destination " + parts[1] + " must be an absolute path");
  std::vector<std::string> options = {"rbind"};
  std::string propagation = "rprivate";
  bool ro = false;
  if (parts.size() == 3) {
    std::stringstream os(parts[2]);
    while (std::getline(os, part, ',')) {
      static const std::set<std::string> props = {"private", "rprivate", "shared", "rshared", "slave", "rslave"};
      if (part == "ro") ro = true;
      else if (part == "rw") ro = false;
      else if (part == "z" || part == "Z" || part == "nocopy") continue;
      else if (props.count(part)) propagation = part;
      else invalid("invalid mode: " + part);
    }
  }
  options.push_back(ro ? "ro" : "rw");
  options.push_back(propagation);
  return {{"destination", parts[1]}, {"type", "bind"}, {"source", parts[0]}, {"options", options}};
}

}  // namespace

// Every capability the bridge could hand on when it started (its bounding set, CapBnd in
// /proc/self/status, before it confined itself): what --privileged and --cap-add ALL grant, as
// dockerd does, so that an engine running with a reduced bounding set (in a container, in a
// sandbox) still starts privileged containers.
const std::vector<std::string>& grantableCapabilities() {
  static const std::vector<std::string> caps = [] {
    uint64_t bounding = ~uint64_t{0};
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("CapBnd:", 0) == 0) bounding = std::stoull(line.substr(7), nullptr, 16);
    }
    std::vector<std::string> out;
    const auto& all = allCapabilities();
    for (size_t i = 0; i < all.size(); ++i) {
      if (bounding & (uint64_t{1} << i)) out.push_back(all[i]);
    }
    return out;
  }();
  return caps;
}


void resolveSpecUser(json& spec, const std::string& rootfs, const std::string& userText,
                     const std::vector<std::string>& groupAdd) {
  auto user = resolveUser(rootfs, userText, groupAdd);
  json& u = spec["process"]["user"];
  u = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additionalGids.empty()) u["additionalGids"] = user.additionalGids;
}

json buildOciSpec(const SpecInput& in) {
  const json& c = in.config.is_object() ? in.config : json::object();
  const json& h = in.hostConfig.is_object() ? in.hostConfig : json::object();
  // Command: the Entrypoint, then the Cmd (the image's, where the container gave none, were
  // merged in at create).
  std::vector<std::string> entrypoint = strings(c.value("Entrypoint", json()), "Entrypoint");
  std::vector<std::string> cmd = strings(c.value("Cmd", json()), "Cmd");
  std::vector<std::string> args = entrypoint;
  args.insert(args.end(), cmd.begin(), cmd.end());
  if (args.empty()) invalid("no command specified");
  // --init: a small init (tini) is PID 1, reaps orphans and forwards signals to the command.
  bool init = h.contains("Init") && h["Init"].is_boolean() && h["Init"].get<bool>();
  if (init) {
    if (in.initBinary.empty()) invalid("no init binary (docker-init or tini-static) found for --init");
    args.insert(args.begin(), {"/sbin/docker-init", "--"});
  }

  // Environment: PATH and HOSTNAME always set, then the container's (the image's included).
  std::vector<std::string> env;
  auto setEnv = [&](const std::string& kv) {
    std::string key = kv.substr(0, kv.find('='));
    if (key.empty()) invalid("invalid environment variable: " + kv);
    env.erase(std::remove_if(env.begin(), env.end(), [&](const std::string& e) { return e.substr(0, e.find('=')) == key; }),
              env.end());
    env.push_back(kv);
  };
  std::string hostname = c.value("Hostname", "");
  if (hostname.empty()) hostname = in.hostname;
  setEnv("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  setEnv("HOSTNAME=" + hostname);
  bool tty = c.value("Tty", false);
  if (tty) setEnv("TERM=xterm");
  for (const auto& e : strings(c.value("Env", json()), "Env")) {
    if (e.find('=') == std::string::npos) continue;  // "NAME" alone: unset in dockerd's client
    setEnv(e);
  }

  std::string cwd = c.value("WorkingDir", "");
  if (cwd.empty()) cwd = "/";
  if (cwd.front() != '/') invalid("the working directory '" + cwd + "' is invalid, it needs to be an absolute path");

  std::string userText = c.value("User", "");
  // Without a root filesystem (validation only) the user is not resolved.
  auto user = in.rootfs.empty() ? ResolvedUser{} : resolveUser(in.rootfs, userText, strings(h.value("GroupAdd", json()), "GroupAdd"));

  auto caps = capabilities(h);
  bool noNewPrivileges = false;
  std::optional<json> seccomp;  // unset: the default profile
  bool unconfined = false;
  for (const auto& opt : strings(h.value("SecurityOpt", json()), "SecurityOpt")) {
    if (opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true") {
      noNewPrivileges = true;
    } else if (opt == "seccomp=unconfined" || opt == "seccomp:unconfined") {
      unconfined = true;
    } else if (opt.rfind("seccomp=", 0) == 0 || opt.rfind("seccomp:", 0) == 0) {
      // The CLI sends the profile file's content.
      auto profile = parseJsonOrDiscarded(opt.substr(8));
      if (!profile.is_object() || !profile.contains("defaultAction")) {
        invalid("Decoding seccomp profile failed: not a seccomp profile");
      }
      seccomp = profile;
    } else if (opt.rfind("label", 0) == 0 || opt.rfind("apparmor", 0) == 0) {
      continue;  // SELinux and AppArmor are not used on these hosts
    } else {
      invalid("Invalid --security-opt: \"" + opt + "\"");
    }
  }

  json rlimits = json::array();
  if (h.contains("Ulimits") && h["Ulimits"].is_array()) {
    for (const auto& u : h["Ulimits"]) {
      std::string name = u.value("Name", "");
      std::transform(name.begin(), name.end(), name.begin(), ::toupper);
      if (name.empty()) invalid("invalid ulimit: no name");
      rlimits.push_back({{"type", "RLIMIT_" + name},
                         {"hard", integerValue(u.value("Hard", json()), "Ulimits Hard")},
                         {"soft", integerValue(u.value("Soft", json()), "Ulimits Soft")}});
    }
  }

  bool privileged = h.value("Privileged", false);
  bool readonly = h.value("ReadonlyRootfs", false);
  json mounts = standardMounts(privileged);
  auto addMount = [&](json m) {
    std::string dst = m["destination"];
    // A user mount replaces a standard one at the same place (e.g. --tmpfs /dev/shm).
    for (auto it = mounts.begin(); it != mounts.end();) {
      if ((*it)["destination"] == dst) it = mounts.erase(it);
      else ++it;
    }
    mounts.push_back(std::move(m));
  };
  for (const auto& b : strings(h.value("Binds", json()), "Binds")) addMount(bindMount(b));
  if (h.contains("Mounts") && h["Mounts"].is_array()) {
    for (const auto& m : h["Mounts"]) addMount(mountOption(m));
  }
  if (h.contains("Tmpfs") && h["Tmpfs"].is_object()) {
    for (auto it = h["Tmpfs"].begin(); it != h["Tmpfs"].end(); ++it) {
      if (it.key().empty() || it.key().front() != '/') invalid("invalid tmpfs destination: " + it.key());
      std::vector<std::string> options = {"nosuid", "nodev", "noexec"};
      std::string opts = it.value().is_string() ? it.value().get<std::string>() : "";
      std::stringstream os(opts);
      std::string o;
      while (std::getline(os, o, ',')) {
        if (!o.empty()) options.push_back(o);
      }
      addMount({{"destination", it.key()}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", options}});
    }
  }
  if (init) {
    addMount({{"destination", "/sbin/docker-init"}, {"type", "bind"}, {"source", in.initBinary}, {"options", {"rbind", "ro"}}});
  }

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  int64_t memory = integerValue(h.value("Memory", json()), "Memory");
  int64_t swap = integerValue(h.value("MemorySwap", json()), "MemorySwap");
  if (memory < 0) invalid("invalid memory limit");
  if (memory > 0 && memory < 6 * 1024 * 1024) invalid("Minimum memory limit allowed is 6MB");
  if (swap > 0 && memory > 0 && swap < memory) {
    invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (memory > 0) {
    resources["memory"] = {{"limit", memory}};
    if (swap != 0) resources["memory"]["swap"] = swap;
  }
  if (int64_t reservation = integerValue(h.value("MemoryReservation", json()), "MemoryReservation"); reservation != 0) {
    if (reservation < 0) invalid("invalid memory reservation");
    if (memory > 0 && reservation > memory) {
      invalid("Minimum memory limit can not be less than memory reservation limit, see usage");
    }
    resources["memory"]["reservation"] = reservation;
  }
  json cpu = json::object();
  if (int64_t shares = integerValue(h.value("CpuShares", json()), "CpuShares"); shares > 0) cpu["shares"] = shares;
  int64_t period = integerValue(h.value("CpuPeriod", json()), "CpuPeriod");
  int64_t quota = integerValue(h.value("CpuQuota", json()), "CpuQuota");
  if (int64_t nano = integerValue(h.value("NanoCpus", json()), "NanoCpus"); nano != 0) {
    long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (nano < 0 || nano > cpus * 1000000000LL) {
      invalid("Range of CPUs is from 0.01 to " + std::to_string(cpus) + ".00, as there are only " + std::to_string(cpus) +
              " CPUs available");
    }
    if (period > 0) invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    if (quota > 0) invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    cpu["period"] = 100000;
    cpu["quota"] = nano * 100000 / 1000000000;
  } else {
    if (period != 0 && (period < 1000 || period > 1000000)) invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
    if (quota != 0 && quota < 1000) invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    if (period > 0) cpu["period"] = period;
    if (quota > 0) cpu["quota"] = quota;
  }
  if (std::string set = h.value("CpusetCpus", ""); !set.empty()) cpu["cpus"] = set;
  if (std::string mems = h.value("CpusetMems", ""); !mems.empty()) cpu["mems"] = mems;
  if (!cpu.empty()) resources["cpu"] = cpu;
  if (int64_t weight = integerValue(h.value("BlkioWeight", json()), "BlkioWeight"); weight != 0) {
    if (weight < 10 || weight > 1000) invalid("Range of blkio weight is from 10 to 1000");
    resources["blockIO"] = {{"weight", weight}};
  }
  if (int64_t pids = integerValue(h.value("PidsLimit", json()), "PidsLimit"); pids > 0) resources["pids"] = {{"limit", pids}};

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  std::string networkMode = h.value("NetworkMode", "");
  if (networkMode != "host") namespaces.push_back({{"type", "network"}});

  json linux = {{"namespaces", namespaces}, {"resources", resources}};
  if (!privileged && !unconfined) linux["seccomp"] = seccomp ? *seccomp : defaultSeccompProfile(caps);
  if (!privileged) {
    // moby's defaults, with /sys/devices/virtual/powercap (CVE-2020-8694: RAPL energy counters
    // leak what other processes compute), which moby masks and Debian's 20.10.24 build does not.
    linux["maskedPaths"] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                            "/sys/firmware", "/sys/devices/virtual/powercap"};
    linux["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  }

  json capSet = caps;
  json process = {{"terminal", tty},
                  {"user", {{"uid", user.uid}, {"gid", user.gid}}},
                  {"args", args},
                  {"env", env},
                  {"cwd", cwd},
                  {"capabilities", {{"bounding", capSet}, {"effective", capSet}, {"permitted", capSet}}},
                  {"noNewPrivileges", noNewPrivileges}};
  if (!user.additionalGids.empty()) process["user"]["additionalGids"] = user.additionalGids;
  if (!rlimits.empty()) process["rlimits"] = rlimits;

  sortMountsByDepth(mounts);
  json spec = {{"ociVersion", "1.0.2-dev"},
               {"process", process},
               {"root", {{"path", "rootfs"}, {"readonly", readonly}}},
               {"hostname", hostname},
               {"mounts", mounts},
               {"linux", linux}};
  if (std::string domain = c.value("Domainname", ""); !domain.empty()) spec["domainname"] = domain;
  return spec;
}

void sortMountsByDepth(json& mounts) {
  if (!mounts.is_array()) return;
  auto depth = [](const json& m) {
    std::string d = m.value("destination", "");
    size_t n = 0;
    bool inName = false;
    for (char c : d) {
      if (c == '/') {
        inName = false;
      } else if (!inName) {
        inName = true;
        ++n;
      }
    }
    return n;
  };
  std::vector<json> sorted(mounts.begin(), mounts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [&](const json& a, const json& b) { return depth(a) < depth(b); });
  mounts = json(sorted);
}

}  // namespace berth::bridge
