// Container stats from cgroup files: the document dockerd writes for `GET /containers/{id}/stats`,
// from fake v1 and v2 cgroup trees and a fake /proc whose file contents are copied from real
// hosts (a v1 host's memory, cpuacct, cpu, blkio and pids files; v2's as the kernel's
// cgroup-v2 documentation and a v2 host write them).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/time_format.h"
#include "services/containerd-bridge/container_stats.h"
#include "tests/support/process.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

constexpr const char* kCgroup = "/berth/4f1c0a7e9d2b";

// 881636+16306+143185+1762418+4032+0+1163 ticks of the "cpu" line's first seven fields; the
// steal (254) and guest fields are not counted, as in dockerd.
constexpr uint64_t kSystemCpuNanos = 2808740ULL * 10000000ULL;
constexpr uint64_t kHostMemory = 24684092ULL * 1024;

class ContainerStatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write(proc() + "/stat",
          "cpu  881636 16306 143185 1762418 4032 0 1163 254 0 0\n"
          "cpu0 423370 8168 68376 903199 1012 0 321 126 0 0\n"
          "cpu1 458266 8137 74808 859219 3020 0 841 128 0 0\n"
          "intr 10810350 0 0 0 0\n"
          "ctxt 20784055\n"
          "btime 1763607480\n"
          "processes 312555\n"
          "procs_running 2\n"
          "cpu_not_a_cpu_line 7\n");
    write(proc() + "/meminfo",
          "MemTotal:       24684092 kB\n"
          "MemFree:        23338696 kB\n"
          "MemAvailable:   24237732 kB\n");
  }

  static void write(const std::string& path, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << content;
  }

  std::string v1Root() const { return dir_.path() + "/v1"; }
  std::string v2Root() const { return dir_.path() + "/v2"; }
  std::string proc() const { return dir_.path() + "/proc"; }
  std::string v1(const std::string& controller) const { return v1Root() + "/" + controller + kCgroup; }
  std::string v2() const { return v2Root() + kCgroup; }

  // A v1 host as systemd mounts it: cpu and cpuacct share "cpu,cpuacct", reached through links.
  void makeV1Container() {
    write(v1("memory") + "/memory.stat",
          "cache 2703360\nrss 438272\nrss_huge 0\nshmem 0\nmapped_file 1363968\ndirty 4096\nwriteback 0\n"
          "swap 0\npgpgin 1923\npgpgout 1151\npgfault 1443\npgmajfault 12\ninactive_anon 425984\n"
          "active_anon 12288\ninactive_file 2703360\nactive_file 0\nunevictable 0\n"
          "hierarchical_memory_limit 9223372036854771712\nhierarchical_memsw_limit 9223372036854771712\n"
          "total_cache 2703360\ntotal_rss 438272\ntotal_rss_huge 0\ntotal_shmem 0\ntotal_mapped_file 1363968\n"
          "total_dirty 4096\ntotal_writeback 0\ntotal_swap 0\ntotal_pgpgin 1923\ntotal_pgpgout 1151\n"
          "total_pgfault 1443\ntotal_pgmajfault 12\ntotal_inactive_anon 425984\ntotal_active_anon 12288\n"
          "total_inactive_file 2703360\ntotal_active_file 0\ntotal_unevictable 0\n");
    write(v1("memory") + "/memory.usage_in_bytes", "3874816\n");
    write(v1("memory") + "/memory.max_usage_in_bytes", "5234688\n");
    write(v1("memory") + "/memory.limit_in_bytes", "9223372036854771712\n");
    write(v1("memory") + "/memory.failcnt", "0\n");

    write(v1("cpu,cpuacct") + "/cpuacct.usage", "50373829\n");
    write(v1("cpu,cpuacct") + "/cpuacct.stat", "user 3\nsystem 2\n");
    write(v1("cpu,cpuacct") + "/cpuacct.usage_percpu", "25186914 25186915 \n");
    write(v1("cpu,cpuacct") + "/cpu.stat",
          "nr_periods 12\nnr_throttled 4\nthrottled_time 1234567\nnr_bursts 0\nburst_time 0\n");
    std::filesystem::create_directory_symlink("cpu,cpuacct", v1Root() + "/cpu");
    std::filesystem::create_directory_symlink("cpu,cpuacct", v1Root() + "/cpuacct");

    write(v1("blkio") + "/blkio.throttle.io_service_bytes_recursive",
          "8:0 Read 7593984\n8:0 Write 20480\n8:0 Sync 20480\n8:0 Async 7593984\n8:0 Discard 0\n"
          "8:0 Total 7614464\nTotal 7614464\n");
    write(v1("blkio") + "/blkio.throttle.io_serviced_recursive",
          "8:0 Read 207\n8:0 Write 5\n8:0 Sync 5\n8:0 Async 207\n8:0 Discard 0\n8:0 Total 212\nTotal 212\n");

    write(v1("pids") + "/pids.current", "3\n");
    write(v1("pids") + "/pids.max", "max\n");
  }

  void makeV2Container() {
    write(v2Root() + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    write(v2() + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    write(v2() + "/cpu.stat",
          "usage_usec 53120\nuser_usec 30427\nsystem_usec 22693\ncore_sched.force_idle_usec 0\n"
          "nr_periods 10\nnr_throttled 2\nthrottled_usec 4567\nnr_bursts 0\nburst_usec 0\n");
    write(v2() + "/memory.current", "3874816\n");
    write(v2() + "/memory.max", "max\n");
    write(v2() + "/memory.stat",
          "anon 438272\nfile 2703360\nkernel 454656\nkernel_stack 49152\npagetables 73728\n"
          "sec_pagetables 0\npercpu 720\nsock 0\nvmalloc 0\nshmem 0\nzswap 0\nzswapped 0\n"
          "file_mapped 1363968\nfile_dirty 4096\nfile_writeback 0\nswapcached 0\nanon_thp 0\nfile_thp 0\n"
          "shmem_thp 0\ninactive_anon 425984\nactive_anon 12288\ninactive_file 2703360\nactive_file 0\n"
          "unevictable 0\nslab_reclaimable 174936\nslab_unreclaimable 116872\nslab 291808\n"
          "workingset_refault_anon 0\nworkingset_refault_file 0\nworkingset_activate_anon 0\n"
          "workingset_activate_file 0\nworkingset_restore_anon 0\nworkingset_restore_file 0\n"
          "workingset_nodereclaim 0\npgscan 0\npgsteal 0\npgscan_kswapd 0\npgscan_direct 0\n"
          "pgsteal_kswapd 0\npgsteal_direct 0\npgfault 1443\npgmajfault 12\npgrefill 0\npgactivate 3\n"
          "pgdeactivate 0\npglazyfree 0\npglazyfreed 0\nzswpin 0\nzswpout 0\nthp_fault_alloc 0\n"
          "thp_collapse_alloc 0\n");
    write(v2() + "/memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n");
    write(v2() + "/pids.current", "2\n");
    write(v2() + "/pids.max", "max\n");
    write(v2() + "/io.stat",
          "8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
          "253:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  }

  json readV1() {
    auto stats = readContainerStats(detectCgroupLayout(v1Root()), kCgroup, proc());
    EXPECT_TRUE(stats.has_value());
    return stats.value_or(json());
  }

  json readV2() {
    auto stats = readContainerStats(detectCgroupLayout(v2Root()), kCgroup, proc());
    EXPECT_TRUE(stats.has_value());
    return stats.value_or(json());
  }

  test::TempDir dir_{"berth-stats"};
};

json entry(uint64_t major, uint64_t minor, const char* op, uint64_t value) {
  return {{"major", major}, {"minor", minor}, {"op", op}, {"value", value}};
}

TEST_F(ContainerStatsTest, TheLayoutIsV2OnlyWhereTheUnifiedHierarchyIsTheRoot) {
  makeV1Container();
  makeV2Container();
  EXPECT_FALSE(detectCgroupLayout(v1Root()).v2);
  EXPECT_TRUE(detectCgroupLayout(v2Root()).v2);
  EXPECT_EQ(detectCgroupLayout(v2Root()).root, v2Root());
}

TEST_F(ContainerStatsTest, TheDocumentHasDockersShapeWithPrereadAndPrecpuLeftToTheCaller) {
  makeV1Container();
  json s = readV1();
  std::set<std::string> keys;
  for (auto& [k, v] : s.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
                                         "cpu_stats", "precpu_stats", "memory_stats"}));
  int64_t read = parseRfc3339Nanos(s["read"].get<std::string>());
  EXPECT_LT(std::llabs(read - nowUnixNanos()), 60LL * 1000000000);
  EXPECT_EQ(s["preread"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(s["num_procs"], 0);
  EXPECT_EQ(s["storage_stats"], json::object());
  EXPECT_EQ(s["precpu_stats"], json::parse(R"({"cpu_usage":{"total_usage":0,"usage_in_kernelmode":0,
      "usage_in_usermode":0},"throttling_data":{"periods":0,"throttled_periods":0,"throttled_time":0}})"));
}

TEST_F(ContainerStatsTest, V1CpuTimesAreNanosecondsWithCpuacctTicksConverted) {
  makeV1Container();
  json cpu = readV1()["cpu_stats"];
  EXPECT_EQ(cpu["cpu_usage"]["total_usage"], 50373829u);
  EXPECT_EQ(cpu["cpu_usage"]["usage_in_usermode"], 30000000u);    // 3 ticks of 1/100 s
  EXPECT_EQ(cpu["cpu_usage"]["usage_in_kernelmode"], 20000000u);  // 2 ticks
  EXPECT_EQ(cpu["cpu_usage"]["percpu_usage"], json({25186914, 25186915}));
  EXPECT_EQ(cpu["throttling_data"], json({{"periods", 12}, {"throttled_periods", 4}, {"throttled_time", 1234567}}));
}

TEST_F(ContainerStatsTest, HostCpuTimeAndOnlineCpusComeFromProcStatAsDockerdReadsThem) {
  makeV1Container();
  json cpu = readV1()["cpu_stats"];
  EXPECT_EQ(cpu["system_cpu_usage"], kSystemCpuNanos);
  EXPECT_EQ(cpu["online_cpus"], 2);
}

TEST_F(ContainerStatsTest, V1MemoryReportsUsageMaxUsageAndDockerdsMemoryStatKeys) {
  makeV1Container();
  json mem = readV1()["memory_stats"];
  EXPECT_EQ(mem["usage"], 3874816u);
  EXPECT_EQ(mem["max_usage"], 5234688u);
  EXPECT_FALSE(mem.contains("failcnt")) << "a zero failcnt is omitted, as Go's omitempty does";
  EXPECT_EQ(mem["stats"].size(), 32u);
  EXPECT_EQ(mem["stats"]["cache"], 2703360u);
  EXPECT_EQ(mem["stats"]["rss"], 438272u);
  EXPECT_EQ(mem["stats"]["total_inactive_file"], 2703360u);
  EXPECT_EQ(mem["stats"]["hierarchical_memory_limit"], 9223372036854771712u);
  EXPECT_FALSE(mem["stats"].contains("shmem")) << "dockerd's v1 set leaves shmem and swap out";
  EXPECT_FALSE(mem["stats"].contains("swap"));
}

TEST_F(ContainerStatsTest, AnUnlimitedContainersMemoryLimitIsTheHostsMemory) {
  makeV1Container();
  EXPECT_EQ(readV1()["memory_stats"]["limit"], kHostMemory);
  makeV2Container();
  EXPECT_EQ(readV2()["memory_stats"]["limit"], kHostMemory);
}

TEST_F(ContainerStatsTest, ASetMemoryLimitAndFailureCountAreReportedAsWritten) {
  makeV1Container();
  write(v1("memory") + "/memory.limit_in_bytes", "268435456\n");
  write(v1("memory") + "/memory.failcnt", "7\n");
  json mem = readV1()["memory_stats"];
  EXPECT_EQ(mem["limit"], 268435456u);
  EXPECT_EQ(mem["failcnt"], 7u);
}

TEST_F(ContainerStatsTest, V1BlkioListsTheThrottleCountersWithTheKernelsOpNames) {
  makeV1Container();
  json blkio = readV1()["blkio_stats"];
  ASSERT_EQ(blkio["io_service_bytes_recursive"].size(), 6u);
  EXPECT_EQ(blkio["io_service_bytes_recursive"][0], entry(8, 0, "Read", 7593984));
  EXPECT_EQ(blkio["io_service_bytes_recursive"][1], entry(8, 0, "Write", 20480));
  EXPECT_EQ(blkio["io_service_bytes_recursive"][5], entry(8, 0, "Total", 7614464));
  ASSERT_EQ(blkio["io_serviced_recursive"].size(), 6u);
  EXPECT_EQ(blkio["io_serviced_recursive"][0], entry(8, 0, "Read", 207));
  for (const char* key : {"io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                          "io_merged_recursive", "io_time_recursive", "sectors_recursive"}) {
    EXPECT_EQ(blkio[key], json::array()) << key << " is [] on v1, as dockerd copies an empty list";
  }
}

TEST_F(ContainerStatsTest, V1BlkioPrefersTheCfqCountersWhenTheyHoldEntries) {
  makeV1Container();
  write(v1("blkio") + "/blkio.io_serviced_recursive", "8:0 Read 11\n8:0 Write 2\n8:0 Total 13\nTotal 13\n");
  write(v1("blkio") + "/blkio.io_service_bytes_recursive", "8:0 Read 45056\n8:0 Write 8192\nTotal 53248\n");
  write(v1("blkio") + "/blkio.sectors_recursive", "8:0 104\n");
  write(v1("blkio") + "/blkio.time_recursive", "8:0 3502\n");
  write(v1("blkio") + "/blkio.io_queued_recursive", "8:0 Read 0\n8:0 Write 1\nTotal 1\n");
  json blkio = readV1()["blkio_stats"];
  EXPECT_EQ(blkio["io_serviced_recursive"], json({entry(8, 0, "Read", 11), entry(8, 0, "Write", 2),
                                                  entry(8, 0, "Total", 13)}));
  EXPECT_EQ(blkio["io_service_bytes_recursive"], json({entry(8, 0, "Read", 45056), entry(8, 0, "Write", 8192)}));
  EXPECT_EQ(blkio["sectors_recursive"], json({entry(8, 0, "", 104)}));
  EXPECT_EQ(blkio["io_time_recursive"], json({entry(8, 0, "", 3502)}));
  EXPECT_EQ(blkio["io_queue_recursive"], json({entry(8, 0, "Read", 0), entry(8, 0, "Write", 1)}));
  EXPECT_EQ(blkio["io_merged_recursive"], json::array());
}

TEST_F(ContainerStatsTest, V1PidsReportTheCountAndLeaveAnUnlimitedLimitOut) {
  makeV1Container();
  EXPECT_EQ(readV1()["pids_stats"], json({{"current", 3}}));
  write(v1("pids") + "/pids.max", "100\n");
  EXPECT_EQ(readV1()["pids_stats"], json({{"current", 3}, {"limit", 100}}));
}

TEST_F(ContainerStatsTest, ControllersTheContainerLacksLeaveTheirSectionsEmpty) {
  makeV1Container();
  std::filesystem::remove_all(v1Root() + "/pids");
  std::filesystem::remove_all(v1Root() + "/blkio");
  std::filesystem::remove(v1("memory") + "/memory.stat");
  json s = readV1();
  EXPECT_EQ(s["pids_stats"], json::object());
  EXPECT_EQ(s["memory_stats"], json::object()) << "without memory.stat containerd reports no memory at all";
  EXPECT_TRUE(s["blkio_stats"]["io_service_bytes_recursive"].is_null());
  EXPECT_TRUE(s["blkio_stats"]["sectors_recursive"].is_null());
  EXPECT_EQ(s["cpu_stats"]["cpu_usage"]["total_usage"], 50373829u);
}

TEST_F(ContainerStatsTest, CpuAndCpuacctAreFoundWhenMountedApartOrWithoutLinks) {
  makeV1Container();
  std::filesystem::remove(v1Root() + "/cpu");
  std::filesystem::remove(v1Root() + "/cpuacct");
  EXPECT_EQ(readV1()["cpu_stats"]["cpu_usage"]["total_usage"], 50373829u) << "found through cpu,cpuacct";
  std::filesystem::rename(v1Root() + "/cpu,cpuacct", v1Root() + "/cpuacct");
  write(v1("cpu") + "/cpu.stat", "nr_periods 1\nnr_throttled 1\nthrottled_time 99\n");
  json cpu = readV1()["cpu_stats"];
  EXPECT_EQ(cpu["cpu_usage"]["total_usage"], 50373829u);
  EXPECT_EQ(cpu["throttling_data"]["throttled_time"], 99u);
}

TEST_F(ContainerStatsTest, V2CpuTimesAreMicrosecondsTimesAThousandWithoutPerCpuUsage) {
  makeV2Container();
  json cpu = readV2()["cpu_stats"];
  EXPECT_EQ(cpu["cpu_usage"], json({{"total_usage", 53120000}, {"usage_in_usermode", 30427000},
                                    {"usage_in_kernelmode", 22693000}}));
  EXPECT_EQ(cpu["throttling_data"], json({{"periods", 10}, {"throttled_periods", 2}, {"throttled_time", 4567000}}));
  EXPECT_EQ(cpu["system_cpu_usage"], kSystemCpuNanos);
  EXPECT_EQ(cpu["online_cpus"], 2);
}

TEST_F(ContainerStatsTest, V2MemoryReportsCurrentUsageOomEventsAndDockerdsV2StatKeys) {
  makeV2Container();
  json mem = readV2()["memory_stats"];
  EXPECT_EQ(mem["usage"], 3874816u);
  EXPECT_FALSE(mem.contains("max_usage")) << "v2 has no max_usage in dockerd";
  EXPECT_EQ(mem["failcnt"], 1u) << "memory.events oom";
  EXPECT_EQ(mem["stats"].size(), 31u);
  EXPECT_EQ(mem["stats"]["anon"], 438272u);
  EXPECT_EQ(mem["stats"]["file"], 2703360u);
  EXPECT_EQ(mem["stats"]["slab"], 291808u);
  EXPECT_EQ(mem["stats"]["file_dirty"], 4096u);
  EXPECT_EQ(mem["stats"]["pgactivate"], 3u);
  EXPECT_EQ(mem["stats"]["workingset_refault"], 0u) << "newer kernels split it into _anon and _file";
  EXPECT_FALSE(mem["stats"].contains("kernel"));

  write(v2() + "/memory.max", "536870912\n");
  EXPECT_EQ(readV2()["memory_stats"]["limit"], 536870912u);
}

TEST_F(ContainerStatsTest, V2IoBecomesReadAndWriteByteEntriesAndTheOtherListsNull) {
  makeV2Container();
  json blkio = readV2()["blkio_stats"];
  EXPECT_EQ(blkio["io_service_bytes_recursive"],
            json({entry(8, 0, "read", 1459200), entry(8, 0, "write", 314773504), entry(253, 0, "read", 4096),
                  entry(253, 0, "write", 0)}));
  for (const char* key : {"io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                          "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
                          "sectors_recursive"}) {
    EXPECT_TRUE(blkio[key].is_null()) << key;
  }
  write(v2() + "/io.stat", "");
  EXPECT_TRUE(readV2()["blkio_stats"]["io_service_bytes_recursive"].is_null()) << "no devices: null, as dockerd";
}

TEST_F(ContainerStatsTest, V2PidsReportAnUnlimitedLimitAsContainerdReadsMax) {
  makeV2Container();
  EXPECT_EQ(readV2()["pids_stats"], json({{"current", 2}, {"limit", 18446744073709551615u}}));
  write(v2() + "/pids.max", "64\n");
  EXPECT_EQ(readV2()["pids_stats"], json({{"current", 2}, {"limit", 64}}));
}

TEST_F(ContainerStatsTest, AContainerWithoutACgroupHasNoStats) {
  makeV1Container();
  makeV2Container();
  EXPECT_FALSE(readContainerStats(detectCgroupLayout(v1Root()), "/berth/gone", proc()).has_value());
  EXPECT_FALSE(readContainerStats(detectCgroupLayout(v2Root()), "/berth/gone", proc()).has_value());
}

TEST_F(ContainerStatsTest, ACgroupPathThatClimbsOutOfTheRootIsInvalid) {
  makeV2Container();
  try {
    readContainerStats(detectCgroupLayout(v2Root()), "/berth/../../etc", proc());
    FAIL() << "expected an invalid error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
  }
}

TEST_F(ContainerStatsTest, MalformedFilesLeaveTheirFieldsZeroOrOmitted) {
  makeV2Container();
  write(v2() + "/cpu.stat", "usage_usec\nuser_usec abc\nsystem_usec 5 6\nnr_periods -3\n\n");
  write(v2() + "/memory.current", "lots\n");
  write(v2() + "/memory.max", "99999999999999999999999\n");
  write(v2() + "/memory.stat", "anon\nfile 12 extra\n\xff\xfe\n");
  write(v2() + "/pids.current", "");
  write(v2() + "/io.stat", "garbage\n8:x rbytes=1\n8:1 rbytes=x wbytes=7 =3 nokey\n:\n");
  write(proc() + "/stat", "cpu 1 2 3\ncpu0 1 2 3\n");
  write(proc() + "/meminfo", "MemTotal: lots kB\n");
  json s = readV2();
  EXPECT_NO_THROW(s.dump());
  EXPECT_EQ(s["cpu_stats"]["cpu_usage"]["total_usage"], 0u);
  EXPECT_EQ(s["cpu_stats"]["throttling_data"]["periods"], 0u) << "a negative counter reads 0, as containerd";
  EXPECT_FALSE(s["cpu_stats"].contains("system_cpu_usage"));
  EXPECT_EQ(s["cpu_stats"]["online_cpus"], 1);
  EXPECT_FALSE(s["memory_stats"].contains("usage"));
  EXPECT_FALSE(s["memory_stats"].contains("limit"));
  EXPECT_EQ(s["memory_stats"]["stats"]["file"], 0u);
  EXPECT_EQ(s["pids_stats"], json({{"limit", 18446744073709551615u}}));
  EXPECT_EQ(s["blkio_stats"]["io_service_bytes_recursive"], json({entry(8, 1, "read", 0), entry(8, 1, "write", 7)}));
}

TEST_F(ContainerStatsTest, MalformedV1FilesNeitherThrowNorMakeTheDocumentUnserialisable) {
  makeV1Container();
  write(v1("blkio") + "/blkio.throttle.io_service_bytes_recursive",
        "8:0 R\xff\xfe" "ad 5\n8:0 Write\n8 0 1 2 3\nTotal\n8:0 Write 20480\n");
  write(v1("cpu,cpuacct") + "/cpuacct.usage_percpu", "25186914 x 25186915\n");
  write(v1("cpu,cpuacct") + "/cpuacct.stat", "user\nsystem -4\n");
  write(v1("memory") + "/memory.usage_in_bytes", "-1\n");
  write(v1("pids") + "/pids.current", "three\n");
  json s = readV1();
  EXPECT_NO_THROW(s.dump());
  EXPECT_EQ(s["blkio_stats"]["io_service_bytes_recursive"], json({entry(8, 0, "Write", 20480)}));
  EXPECT_FALSE(s["cpu_stats"]["cpu_usage"].contains("percpu_usage")) << "a half-read list would misattribute CPUs";
  EXPECT_EQ(s["cpu_stats"]["cpu_usage"]["usage_in_usermode"], 0u);
  EXPECT_EQ(s["cpu_stats"]["cpu_usage"]["usage_in_kernelmode"], 0u) << "a negative counter reads 0";
  EXPECT_FALSE(s["memory_stats"].contains("usage"));
  EXPECT_EQ(s["pids_stats"], json::object());
}

TEST_F(ContainerStatsTest, ThisHostsOwnCgroupsReportUsage) {
  CgroupLayout layout = detectCgroupLayout();
  // v1: the root of every controller hierarchy; v2: this test's own cgroup (the v2 root has no
  // memory.current).
  std::string relPath = "/";
  if (layout.v2) {
    std::istringstream cgroups(test::readText("/proc/self/cgroup"));
    for (std::string line; std::getline(cgroups, line);) {
      if (line.rfind("0::", 0) == 0) relPath = line.substr(3);
    }
  } else if (!std::filesystem::is_directory("/sys/fs/cgroup/memory")) {
    GTEST_SKIP() << "SKIPPED: this host has neither a cgroup2 root nor a cgroup v1 memory hierarchy";
  }
  auto stats = readContainerStats(layout, relPath);
  ASSERT_TRUE(stats.has_value()) << (layout.v2 ? "v2 " : "v1 ") << relPath;
  EXPECT_GT((*stats)["memory_stats"]["usage"].get<uint64_t>(), 0u) << (*stats).dump();
  EXPECT_GT((*stats)["memory_stats"]["limit"].get<uint64_t>(), 0u);
  EXPECT_GT((*stats)["cpu_stats"]["cpu_usage"]["total_usage"].get<uint64_t>(), 0u);
  EXPECT_GT((*stats)["cpu_stats"]["system_cpu_usage"].get<uint64_t>(), 0u);
  EXPECT_GT((*stats)["cpu_stats"]["online_cpus"].get<uint32_t>(), 0u);
}

// The v2 reader on a real cgroup2 hierarchy, whatever the host's layout: on a v1 or hybrid host
// cgroup2 mounts beside the v1 hierarchies with only the controllers v1 left free (cpu.stat is
// always there), so a busy process's CPU time is read for real; memory and pids are read for
// real only where the hierarchy has those controllers.
TEST_F(ContainerStatsTest, TheV2ReaderReadsABusyProcessInARealCgroup2Hierarchy) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: mounting cgroup2 and moving a process needs root";
  CgroupLayout host = detectCgroupLayout();
  test::TempDir mountPoint("berth-cgroup2");
  std::string root = host.v2 ? "/sys/fs/cgroup" : mountPoint.path();
  if (!host.v2) {
    ASSERT_EQ(::mount("none", root.c_str(), "cgroup2", 0, nullptr), 0) << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    bool mounted;
    ~Unmount() {
      if (mounted) ::umount2(path.c_str(), MNT_DETACH);
    }
  } unmount{root, !host.v2};
  std::string rel = "/berth-stats-test-" + std::to_string(getpid());
  ASSERT_TRUE(std::filesystem::create_directory(root + rel));
  pid_t busy = fork();
  if (busy == 0) {
    // Spins until killed; the asm barrier keeps the loop from being optimised away.
    for (;;) asm volatile("" ::: "memory");
  }
  ASSERT_GT(busy, 0);
  struct Reap {
    pid_t pid;
    std::string dir;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      ::rmdir(dir.c_str());
    }
  } reap{busy, root + rel};
  std::ofstream(root + rel + "/cgroup.procs") << busy;
  ASSERT_EQ(test::readText(root + rel + "/cgroup.procs"), std::to_string(busy) + "\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto stats = readContainerStats(CgroupLayout{true, root}, rel);
  ASSERT_TRUE(stats.has_value());
  // Half a second of spinning on a shared machine: at least 50 ms of CPU, at most the wall time
  // times the CPUs (plus slack for the sampling).
  uint64_t cpu = (*stats)["cpu_stats"]["cpu_usage"]["total_usage"].get<uint64_t>();
  EXPECT_GT(cpu, 50'000'000u) << (*stats).dump();
  EXPECT_LT(cpu, 10'000'000'000u);
  std::string controllers = test::readText(root + "/cgroup.controllers");
  if (controllers.find("memory") != std::string::npos) {
    EXPECT_GT((*stats)["memory_stats"]["usage"].get<uint64_t>(), 0u);
  } else {
    std::cout << "[ note ] this host's cgroup2 hierarchy has no memory controller (controllers: " << controllers
              << "); memory is read from fixtures only here\n";
  }
}

TEST_F(ContainerStatsTest, NetworkCountersAreEachInterfaceButLoopbackFromTheProcesssNetDev) {
  write(proc() + "/42/net/dev",
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n"
        "  eth0:    5852      62    1    2    0     0          0         0     1348      17    3    4    0     0       0          0\n");
  auto networks = readNetworkStats(proc(), 42);
  ASSERT_TRUE(networks.has_value());
  EXPECT_EQ(*networks, json::parse(R"({"eth0":{"rx_bytes":5852,"rx_packets":62,"rx_errors":1,"rx_dropped":2,
                                               "tx_bytes":1348,"tx_packets":17,"tx_errors":3,"tx_dropped":4}})"));
  // Loopback only (--network none), or a process that is gone: no `networks` at all.
  write(proc() + "/43/net/dev", "h1\nh2\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
  EXPECT_FALSE(readNetworkStats(proc(), 43).has_value());
  EXPECT_FALSE(readNetworkStats(proc(), 44).has_value());
}

}  // namespace
}  // namespace berth::bridge
