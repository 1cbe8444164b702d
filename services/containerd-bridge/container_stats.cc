// Reads a container's cgroup files into one Docker stats sample. dockerd gets these numbers from
// containerd's cgroups library and copies them (daemon/daemon_unix.go); each reader below does
// what that library does for its files, so the document matches dockerd's field for field,
// including which fields come out as zero, omitted, [] or null.
#include "services/containerd-bridge/container_stats.h"

#include <sys/statfs.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <string_view>
#include <vector>

#include "common/errors.h"
#include "common/files.h"
#include "common/time_format.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace berth::bridge {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxUint64 = std::numeric_limits<uint64_t>::max();
// cpuacct.stat and /proc/stat count USER_HZ ticks. USER_HZ is 100 on every Linux architecture
// (the kernel's ABI, not CONFIG_HZ), which is why containerd and dockerd hard-code it too.
constexpr uint64_t kNanosPerTick = 1000000000 / 100;

// ---- Parsing: text we cannot read yields nothing (zero, omitted), never an exception ----

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> fields(std::string_view line, std::string_view separators = " \t") {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t start = line.find_first_not_of(separators, pos);
    if (start == std::string_view::npos) break;
    size_t end = line.find_first_of(separators, start);
    if (end == std::string_view::npos) end = line.size();
    out.push_back(line.substr(start, end - start));
    pos = end;
  }
  return out;
}

std::vector<std::string_view> lines(std::string_view text) { return fields(text, "\n"); }

// containerd's parseUint: a negative number (memory.limit_in_bytes may hold -1 on old kernels)
// reads as 0; anything else that is not a uint64 is unreadable.
std::optional<uint64_t> parseUint(std::string_view s) {
  s = trim(s);
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return std::nullopt;  // not all digits
  if (negative) return 0;                               // however large
  if (ec != std::errc()) return std::nullopt;           // beyond uint64
  return v;
}

// A single-number file. `maxMeans` is what the word "max" stands for (cgroup v2 writes it for
// "no limit"); without it, "max" is unreadable.
std::optional<uint64_t> readUint(const std::string& path, std::optional<uint64_t> maxMeans = std::nullopt) {
  auto text = readFileIfExists(path);
  if (!text) return std::nullopt;
  if (maxMeans && trim(*text) == "max") return maxMeans;
  return parseUint(*text);
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.events); malformed lines are
// skipped.
using KeyValues = std::map<std::string, uint64_t, std::less<>>;

KeyValues parseKeyValues(std::string_view text) {
  KeyValues out;
  for (auto line : lines(text)) {
    auto f = fields(line);
    if (f.size() != 2) continue;
    if (auto v = parseUint(f[1])) out[std::string(f[0])] = *v;
  }
  return out;
}

// Empty when the file is missing.
KeyValues readKeyValues(const std::string& path) {
  auto text = readFileIfExists(path);
  return text ? parseKeyValues(*text) : KeyValues{};
}

uint64_t valueOr0(const KeyValues& kv, std::string_view key) {
  auto it = kv.find(key);
  return it == kv.end() ? 0 : it->second;
}

bool isDirectory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

// ---- The sample, in Docker's types (api/types/stats.go) ----

struct BlkioEntry {
  uint64_t major = 0;
  uint64_t minor = 0;
  std::string op;
  uint64_t value = 0;
};
// Go's nil slice (null) versus an empty one ([]): dockerd writes both, depending on the source.
using BlkioList = std::optional<std::vector<BlkioEntry>>;

struct Sample {
  uint64_t pidsCurrent = 0;
  uint64_t pidsLimit = 0;

  BlkioList ioServiceBytes, ioServiced, ioQueued, ioServiceTime, ioWaitTime, ioMerged, ioTime, sectors;

  uint64_t cpuTotal = 0;    // all in nanoseconds
  uint64_t cpuKernel = 0;
  uint64_t cpuUser = 0;
  std::vector<uint64_t> percpu;
  uint64_t systemCpuUsage = 0;
  uint32_t onlineCpus = 0;
  uint64_t throttlePeriods = 0;
  uint64_t throttledPeriods = 0;
  uint64_t throttledTime = 0;

  uint64_t memUsage = 0;
  uint64_t memMaxUsage = 0;
  uint64_t memFailcnt = 0;
  uint64_t memLimit = 0;
  std::map<std::string, uint64_t> memStats;
};

// The `omitempty` fields of Docker's types are left out when zero, exactly as Go's encoder does.
void putIfNonZero(json& obj, const char* key, uint64_t v) {
  if (v != 0) obj[key] = v;
}

json blkioJson(const BlkioList& list) {
  if (!list) return nullptr;
  json out = json::array();
  for (const auto& e : *list) out.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return out;
}

json cpuStatsJson(const Sample& s) {
  json usage = {{"total_usage", s.cpuTotal}, {"usage_in_kernelmode", s.cpuKernel}, {"usage_in_usermode", s.cpuUser}};
  if (!s.percpu.empty()) usage["percpu_usage"] = s.percpu;
  json cpu = {{"cpu_usage", std::move(usage)},
              {"throttling_data",
               {{"periods", s.throttlePeriods},
                {"throttled_periods", s.throttledPeriods},
                {"throttled_time", s.throttledTime}}}};
  putIfNonZero(cpu, "system_cpu_usage", s.systemCpuUsage);
  putIfNonZero(cpu, "online_cpus", s.onlineCpus);
  return cpu;
}

json toJson(const Sample& s) {
  json pids = json::object();
  putIfNonZero(pids, "current", s.pidsCurrent);
  putIfNonZero(pids, "limit", s.pidsLimit);

  json memory = json::object();
  putIfNonZero(memory, "usage", s.memUsage);
  putIfNonZero(memory, "max_usage", s.memMaxUsage);
  if (!s.memStats.empty()) memory["stats"] = s.memStats;
  putIfNonZero(memory, "failcnt", s.memFailcnt);
  putIfNonZero(memory, "limit", s.memLimit);

  return {
      {"read", rfc3339Nano(nowUnixNanos())},
      {"preread", "0001-01-01T00:00:00Z"},
      {"pids_stats", std::move(pids)},
      {"blkio_stats",
       {{"io_service_bytes_recursive", blkioJson(s.ioServiceBytes)},
        {"io_serviced_recursive", blkioJson(s.ioServiced)},
        {"io_queue_recursive", blkioJson(s.ioQueued)},
        {"io_service_time_recursive", blkioJson(s.ioServiceTime)},
        {"io_wait_time_recursive", blkioJson(s.ioWaitTime)},
        {"io_merged_recursive", blkioJson(s.ioMerged)},
        {"io_time_recursive", blkioJson(s.ioTime)},
        {"sectors_recursive", blkioJson(s.sectors)}}},
      {"num_procs", 0},
      {"storage_stats", json::object()},
      {"cpu_stats", cpuStatsJson(s)},
      {"precpu_stats", cpuStatsJson(Sample{})},
      {"memory_stats", std::move(memory)},
  };
}

// ---- The host: dockerd's getSystemCPUUsage and machineMemory ----

// The first "cpu " line of /proc/stat summed over its first seven fields (user nice system idle
// iowait irq softirq; steal and guest are not counted, as in dockerd), and the "cpuN" lines
// counted. dockerd skips the whole sample when the line is malformed; we leave the usage out.
void readHostCpu(const std::string& procRoot, Sample& s) {
  auto text = readFileIfExists(joinPath(procRoot, "stat"));
  if (!text) return;
  for (auto line : lines(*text)) {
    if (line.size() < 4 || line.substr(0, 3) != "cpu") break;  // the cpu lines come first
    if (line[3] == ' ') {
      auto f = fields(line);
      if (f.size() < 8) continue;
      uint64_t ticks = 0;
      bool ok = true;
      for (size_t i = 1; i < 8 && ok; ++i) {
        auto v = parseUint(f[i]);
        ok = v.has_value();
        if (ok) ticks += *v;
      }
      // ticks * (1e9 / 100) rather than dockerd's (ticks * 1e9) / 100: equal, without the
      // overflow a many-core host reaches after weeks of uptime.
      if (ok) s.systemCpuUsage = ticks * kNanosPerTick;
    } else if (line[3] >= '0' && line[3] <= '9') {
      ++s.onlineCpus;
    }
  }
}

// MemTotal in bytes; 0 when unknown.
uint64_t readHostMemory(const std::string& procRoot) {
  auto text = readFileIfExists(joinPath(procRoot, "meminfo"));
  if (!text) return 0;
  for (auto line : lines(*text)) {
    auto f = fields(line);
    if (f.size() >= 2 && f[0] == "MemTotal:") {
      auto kb = parseUint(f[1]);
      return kb ? *kb * 1024 : 0;
    }
  }
  return 0;
}

// dockerd reports an unlimited container's limit (v1's 9223372036854771712, v2's "max") as the
// host's memory.
void clampMemoryLimit(Sample& s, uint64_t hostMemory) {
  if (hostMemory > 0 && s.memLimit > hostMemory) s.memLimit = hostMemory;
}

// ---- cgroup v1 ----

struct V1Dirs {
  std::optional<std::string> memory, cpuacct, cpu, blkio, pids;
  bool any() const { return memory || cpuacct || cpu || blkio || pids; }
};

// The container's directory in the first of `hierarchies` mounted under root. cpu and cpuacct
// are usually co-mounted as "cpu,cpuacct" with symlinks named after each; some hosts lack the
// links, others mount the two apart.
std::optional<std::string> v1Dir(const std::string& root, std::initializer_list<const char*> hierarchies,
                                 const std::string& relPath) {
  for (const char* name : hierarchies) {
    std::string mount = joinPath(root, name);
    if (!isDirectory(mount)) continue;
    std::string dir = joinPath(mount, relPath);
    return isDirectory(dir) ? std::optional(dir) : std::nullopt;
  }
  return std::nullopt;
}

// One blkio file: "8:0 Read 4096" lines become {8, 0, "Read", 4096} (the kernel's capitalised op,
// which dockerd passes through); "8:0 4096" lines (sectors, time) have an empty op; the closing
// "Total N" line is dropped.
std::vector<BlkioEntry> readBlkioEntries(const std::string& path) {
  std::vector<BlkioEntry> out;
  auto text = readFileIfExists(path);
  if (!text) return out;
  for (auto line : lines(*text)) {
    auto f = fields(line, " :\t");
    if (f.size() != 3 && f.size() != 4) continue;
    auto major = parseUint(f[0]);
    auto minor = parseUint(f[1]);
    auto value = parseUint(f.back());
    if (!major || !minor || !value) continue;
    // The op goes into the JSON as a string; the kernel writes a word, and anything else (bytes
    // that are not UTF-8 would make the document unserialisable) is not a line we understand.
    auto isLetter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
    if (f.size() == 4 && !std::all_of(f[2].begin(), f[2].end(), isLetter)) continue;
    out.push_back({*major, *minor, f.size() == 4 ? std::string(f[2]) : std::string(), *value});
  }
  return out;
}

// containerd reads the CFQ scheduler's files when the kernel has them and falls back to the
// throttle policy's two recursive files when they hold nothing (blk-mq kernels have no CFQ).
// Every list dockerd copies is [] rather than null once the blkio controller answered.
void readV1Blkio(const std::string& dir, Sample& s) {
  struct Source {
    const char* file;
    BlkioList Sample::*list;
  };
  static constexpr Source kCfq[] = {
      {"blkio.sectors_recursive", &Sample::sectors},
      {"blkio.io_service_bytes_recursive", &Sample::ioServiceBytes},
      {"blkio.io_serviced_recursive", &Sample::ioServiced},
      {"blkio.io_queued_recursive", &Sample::ioQueued},
      {"blkio.io_service_time_recursive", &Sample::ioServiceTime},
      {"blkio.io_wait_time_recursive", &Sample::ioWaitTime},
      {"blkio.io_merged_recursive", &Sample::ioMerged},
      {"blkio.time_recursive", &Sample::ioTime},
  };
  for (const auto& src : kCfq) s.*src.list = std::vector<BlkioEntry>{};
  size_t found = 0;
  std::error_code ec;
  if (std::filesystem::exists(joinPath(dir, "blkio.io_serviced_recursive"), ec)) {
    for (const auto& src : kCfq) {
      s.*src.list = readBlkioEntries(joinPath(dir, src.file));
      found += (s.*src.list)->size();
    }
  }
  if (found > 0) return;
  s.ioServiced = readBlkioEntries(joinPath(dir, "blkio.throttle.io_serviced_recursive"));
  s.ioServiceBytes = readBlkioEntries(joinPath(dir, "blkio.throttle.io_service_bytes_recursive"));
}

void readV1Cpu(const V1Dirs& dirs, Sample& s) {
  if (dirs.cpuacct) {
    s.cpuTotal = readUint(joinPath(*dirs.cpuacct, "cpuacct.usage")).value_or(0);
    auto ticks = readKeyValues(joinPath(*dirs.cpuacct, "cpuacct.stat"));
    s.cpuUser = valueOr0(ticks, "user") * kNanosPerTick;
    s.cpuKernel = valueOr0(ticks, "system") * kNanosPerTick;
    if (auto text = readFileIfExists(joinPath(*dirs.cpuacct, "cpuacct.usage_percpu"))) {
      for (auto f : fields(*text, " \t\n")) {
        auto v = parseUint(f);
        if (!v) {  // a half-read list would misattribute CPUs; leave it out
          s.percpu.clear();
          break;
        }
        s.percpu.push_back(*v);
      }
    }
  }
  if (dirs.cpu) {
    auto stat = readKeyValues(joinPath(*dirs.cpu, "cpu.stat"));
    s.throttlePeriods = valueOr0(stat, "nr_periods");
    s.throttledPeriods = valueOr0(stat, "nr_throttled");
    s.throttledTime = valueOr0(stat, "throttled_time");  // already nanoseconds on v1
  }
}

// The memory.stat keys dockerd's statsV1 reports; a key the kernel does not write reads 0.
constexpr const char* kV1MemoryStatKeys[] = {
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout", "pgfault",
    "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
    "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_cache", "total_rss", "total_rss_huge",
    "total_mapped_file", "total_dirty", "total_writeback", "total_pgpgin", "total_pgpgout", "total_pgfault",
    "total_pgmajfault", "total_inactive_anon", "total_active_anon", "total_inactive_file", "total_active_file",
    "total_unevictable",
};

void readV1Memory(const std::string& dir, uint64_t hostMemory, Sample& s) {
  // Without memory.stat containerd reports no memory section at all: memory_stats is {}.
  auto text = readFileIfExists(joinPath(dir, "memory.stat"));
  if (!text) return;
  auto stat = parseKeyValues(*text);
  for (const char* key : kV1MemoryStatKeys) s.memStats[key] = valueOr0(stat, key);
  s.memUsage = readUint(joinPath(dir, "memory.usage_in_bytes")).value_or(0);
  s.memMaxUsage = readUint(joinPath(dir, "memory.max_usage_in_bytes")).value_or(0);
  s.memFailcnt = readUint(joinPath(dir, "memory.failcnt")).value_or(0);
  s.memLimit = readUint(joinPath(dir, "memory.limit_in_bytes")).value_or(0);
  clampMemoryLimit(s, hostMemory);
}

void readV1Pids(const std::string& dir, Sample& s) {
  s.pidsCurrent = readUint(joinPath(dir, "pids.current")).value_or(0);
  s.pidsLimit = readUint(joinPath(dir, "pids.max"), 0).value_or(0);  // v1 reads "max" as no limit: 0, omitted
}

std::optional<Sample> readV1(const std::string& root, const std::string& relPath, uint64_t hostMemory) {
  V1Dirs dirs{
      v1Dir(root, {"memory"}, relPath),
      v1Dir(root, {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"}, relPath),
      v1Dir(root, {"cpu", "cpu,cpuacct", "cpuacct,cpu"}, relPath),
      v1Dir(root, {"blkio"}, relPath),
      v1Dir(root, {"pids"}, relPath),
  };
  if (!dirs.any()) return std::nullopt;
  Sample s;
  if (dirs.pids) readV1Pids(*dirs.pids, s);
  if (dirs.blkio) readV1Blkio(*dirs.blkio, s);
  readV1Cpu(dirs, s);
  if (dirs.memory) readV1Memory(*dirs.memory, hostMemory, s);
  return s;
}

// ---- cgroup v2 ----

// The memory.stat keys dockerd's statsV2 reports (a different set from v1's).
constexpr const char* kV2MemoryStatKeys[] = {
    "anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty", "file_writeback",
    "anon_thp", "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
    "slab_reclaimable", "slab_unreclaimable", "pgfault", "pgmajfault", "workingset_refault",
    "workingset_activate", "workingset_nodereclaim", "pgrefill", "pgscan", "pgsteal", "pgactivate",
    "pgdeactivate", "pglazyfree", "pglazyfreed", "thp_fault_alloc", "thp_collapse_alloc",
};

// io.stat: "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0" per device,
// which dockerd turns into a "read" and a "write" entry; the other lists stay null.
void readV2Io(const std::string& dir, Sample& s) {
  auto text = readFileIfExists(joinPath(dir, "io.stat"));
  if (!text) return;
  std::vector<BlkioEntry> entries;
  for (auto line : lines(*text)) {
    auto f = fields(line);
    if (f.size() < 2) continue;
    auto colon = f[0].find(':');
    if (colon == std::string_view::npos) continue;
    auto major = parseUint(f[0].substr(0, colon));
    auto minor = parseUint(f[0].substr(colon + 1));
    if (!major || !minor) continue;
    uint64_t rbytes = 0, wbytes = 0;
    for (size_t i = 1; i < f.size(); ++i) {
      auto eq = f[i].find('=');
      if (eq == std::string_view::npos) continue;
      auto key = f[i].substr(0, eq);
      auto v = parseUint(f[i].substr(eq + 1));
      if (!v) continue;
      if (key == "rbytes") rbytes = *v;
      if (key == "wbytes") wbytes = *v;
    }
    entries.push_back({*major, *minor, "read", rbytes});
    entries.push_back({*major, *minor, "write", wbytes});
  }
  if (!entries.empty()) s.ioServiceBytes = std::move(entries);
}

std::optional<Sample> readV2(const std::string& root, const std::string& relPath, uint64_t hostMemory) {
  std::string dir = joinPath(root, relPath);
  if (!isDirectory(dir)) return std::nullopt;
  Sample s;
  // containerd reads "max" as the largest uint64 here, and dockerd passes it on: an unlimited
  // v2 container reports pids_stats.limit 18446744073709551615, unlike v1.
  s.pidsCurrent = readUint(joinPath(dir, "pids.current")).value_or(0);
  s.pidsLimit = readUint(joinPath(dir, "pids.max"), kMaxUint64).value_or(0);

  readV2Io(dir, s);

  auto cpu = readKeyValues(joinPath(dir, "cpu.stat"));
  s.cpuTotal = valueOr0(cpu, "usage_usec") * 1000;
  s.cpuUser = valueOr0(cpu, "user_usec") * 1000;
  s.cpuKernel = valueOr0(cpu, "system_usec") * 1000;
  s.throttlePeriods = valueOr0(cpu, "nr_periods");
  s.throttledPeriods = valueOr0(cpu, "nr_throttled");
  s.throttledTime = valueOr0(cpu, "throttled_usec") * 1000;

  auto stat = readKeyValues(joinPath(dir, "memory.stat"));
  for (const char* key : kV2MemoryStatKeys) s.memStats[key] = valueOr0(stat, key);
  s.memUsage = readUint(joinPath(dir, "memory.current")).value_or(0);
  s.memLimit = readUint(joinPath(dir, "memory.max"), kMaxUint64).value_or(0);
  clampMemoryLimit(s, hostMemory);
  // v2 has no failure counter; dockerd reports memory.events' "oom" in its place.
  s.memFailcnt = valueOr0(readKeyValues(joinPath(dir, "memory.events")), "oom");
  return s;
}

void checkRelPath(const std::string& relPath) {
  for (auto part : fields(relPath, "/")) {
    if (part == "..") throw Error(ErrorKind::invalid, "cgroup path " + relPath + " leaves the cgroup root");
  }
}

}  // namespace

CgroupLayout detectCgroupLayout(const std::string& root) {
  struct statfs fs {};
  std::error_code ec;
  bool v2 = (::statfs(root.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) ||
            std::filesystem::exists(joinPath(root, "cgroup.controllers"), ec);
  return {v2, root};
}

nlohmann::json stoppedContainerStats() {
  json doc = toJson(Sample{});
  doc["read"] = "0001-01-01T00:00:00Z";
  return doc;
}

std::optional<nlohmann::json> readNetworkStats(const std::string& procRoot, int pid) {
  if (pid <= 0) return std::nullopt;
  auto text = readFileIfExists(procRoot + "/" + std::to_string(pid) + "/net/dev");
  if (!text) return std::nullopt;
  // Two header lines, then "  eth0: rxbytes rxpackets rxerrs rxdrop fifo frame compressed
  // multicast txbytes txpackets txerrs txdrop ...".
  nlohmann::json out = nlohmann::json::object();
  std::istringstream lines(*text);
  std::string line;
  for (int header = 0; header < 2 && std::getline(lines, line); ++header) {
  }
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name.empty() || name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    std::vector<uint64_t> v;
    for (uint64_t n = 0; fields >> n;) v.push_back(n);
    if (v.size() < 12) continue;
    out[name] = {{"rx_bytes", v[0]}, {"rx_packets", v[1]}, {"rx_errors", v[2]},  {"rx_dropped", v[3]},
                 {"tx_bytes", v[8]}, {"tx_packets", v[9]}, {"tx_errors", v[10]}, {"tx_dropped", v[11]}};
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<nlohmann::json> readContainerStats(const CgroupLayout& layout, const std::string& relPath,
                                                 const std::string& procRoot) {
  checkRelPath(relPath);
  uint64_t hostMemory = readHostMemory(procRoot);
  auto sample = layout.v2 ? readV2(layout.root, relPath, hostMemory) : readV1(layout.root, relPath, hostMemory);
  if (!sample) return std::nullopt;
  // dockerd samples the host right after the container; so do we.
  readHostCpu(procRoot, *sample);
  return toJson(*sample);
}

}  // namespace berth::bridge
