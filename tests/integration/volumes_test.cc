// Volumes through the real docker CLI and curl (create, ls, inspect, rm, prune, filters, labels
// and options, refusals, events, system df), and through the volumes service's own client the
// calls the containerd-bridge makes (reference, mount with copy-up, unmount, release,
// reconcile) with real tmpfs and bind mounts, including kill -9 of the service while a mount is
// held and in the middle of a create and a remove.
//
// Expected texts are dockerd 20.10's (/root/refcheck-REPORT.md case 9) unless moby changed them
// since; berth answers API 1.43 (moby 24), and such places say so.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "common/errors.h"
#include "common/files.h"
#include "services/volumes/public/volumes_client.h"
#include "tests/support/engine.h"
#include "tests/support/process.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kC1(64, '1');
const std::string kC2(64, '2');

// The filesystem type mounted at `path` (the top one), or "" when nothing is.
std::string mountTypeAt(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, type;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point, word;
    fields >> id >> parent >> dev >> root >> point;
    if (point != path) continue;
    while (fields >> word && word != "-") {
    }
    fields >> type;  // the last entry for a path is the one on top
  }
  return type;
}

// Mount points below `dir`, deepest first.
std::vector<std::string> mountsUnder(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(dir + "/", 0) == 0) out.push_back(point);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

// A directory watched for entries appearing in it (a create's staging, a remove's trash):
// the gate a kill waits on, so the kill lands while that step is in progress.
class DirectoryWatch {
 public:
  explicit DirectoryWatch(const std::string& dir) : fd_(inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) {
    if (fd_ < 0 || inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
      throw std::runtime_error("inotify on " + dir + ": " + std::strerror(errno));
    }
  }
  ~DirectoryWatch() { ::close(fd_); }
  // True once an entry appeared; false after `timeout`.
  bool wait(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
  }

 private:
  int fd_;
};

class VolumesTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every test releases what it mounted; a mount left under the data root is a failure, and
    // is unmounted here so that removing the engine's directory never reaches through it.
    for (const auto& point : mountsUnder(engine_.dataRoot() + "/volumes")) {
      ADD_FAILURE() << "left mounted: " << point;
      ::umount2(point.c_str(), MNT_DETACH);
    }
  }

  std::string endpoint() const { return "ipc://" + engine_.execRoot() + "/ipc/volumes.sock"; }
  std::string mountpoint(const std::string& name) const { return engine_.dataRoot() + "/volumes/" + name + "/_data"; }
  Deadline soon() const { return deadlineIn(10s); }

  CommandResult curl(const std::string& method, const std::string& path, const std::string& body = "") {
    std::vector<std::string> argv = {"curl", "-s", "-w", "\n%{http_code}", "--unix-socket", engine_.socketPath(),
                                     "-X", method};
    if (!body.empty()) {
      argv.insert(argv.end(), {"-H", "Content-Type: application/json", "-d", body});
    }
    argv.push_back("http://berth" + path);
    return run(argv);
  }

  // The volumes service's events of `type=volume` since `since`, one "action actor attrs" a line.
  std::string volumeEvents(const std::string& since) {
    auto until = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                1);
    return engine_.output({"events", "--since", since, "--until", until, "--filter", "type=volume", "--format",
                           "{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"});
  }
  // Now, as docker events --since takes it (seconds with nanoseconds).
  static std::string nowSeconds() {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(ns / 1000000000),
                  static_cast<long long>(ns % 1000000000));
    return buf;
  }

  Engine engine_;
  TempDir work_{"berth-volumes"};
  zmq::context_t context_;
  volumes::VolumesClient client_{context_, endpoint()};
};

TEST_F(VolumesTest, CreateListInspectAndRemoveAsDockerd) {
  auto r = engine_.docker({"volume", "create", "--label", "a=b", "plainvol"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "plainvol\n");
  std::string anonymous = engine_.output({"volume", "create"});
  ASSERT_EQ(anonymous.size(), 65u) << anonymous;
  anonymous.pop_back();
  EXPECT_EQ(anonymous.find_first_not_of("0123456789abcdef"), std::string::npos) << anonymous;
  r = engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m", "tmpvol"});
  ASSERT_EQ(r.exitCode, 0) << r.err;

  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), anonymous + "\nplainvol\ntmpvol\n");
  EXPECT_EQ(engine_.output({"volume", "ls"}), "DRIVER    VOLUME NAME\nlocal     " + anonymous +
                                                   "\nlocal     plainvol\nlocal     tmpvol\n");
  // The raw document, key for key as dockerd writes it.
  r = curl("GET", "/v1.43/volumes/plainvol");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto body = r.out.substr(0, r.out.rfind('\n'));
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "200");
  auto doc = json::parse(body);
  EXPECT_EQ(doc.size(), 7u) << body;
  EXPECT_EQ(doc["Name"], "plainvol");
  EXPECT_EQ(doc["Driver"], "local");
  EXPECT_EQ(doc["Scope"], "local");
  EXPECT_EQ(doc["Labels"], json({{"a", "b"}}));
  EXPECT_TRUE(doc["Options"].is_null()) << body;
  EXPECT_EQ(doc["Mountpoint"], mountpoint("plainvol"));
  std::string created = doc["CreatedAt"];
  EXPECT_EQ(created.size(), 20u) << created;  // 2026-11-29T22:12:34Z: seconds, as Go's RFC3339
  EXPECT_TRUE(fs::is_directory(mountpoint("plainvol")));
  doc = json::parse(engine_.output({"volume", "inspect", "tmpvol"}))[0];
  EXPECT_EQ(doc["Options"], json({{"device", "tmpfs"}, {"o", "size=1m"}, {"type", "tmpfs"}}));
  EXPECT_TRUE(doc["Labels"].is_null());
  // moby 23+: a volume created without a name carries the anonymous label (20.10: none).
  EXPECT_EQ(engine_.output({"volume", "inspect", "--format", "{{json .Labels}}", anonymous}),
            "{\"com.docker.volume.anonymous\":\"\"}\n");
  // The list document: Volumes and Warnings null.
  r = curl("GET", "/v1.43/volumes");
  doc = json::parse(r.out.substr(0, r.out.rfind('\n')));
  EXPECT_EQ(doc["Volumes"].size(), 3u);
  EXPECT_TRUE(doc["Warnings"].is_null());

  // Creating an existing volume returns it unchanged.
  r = engine_.docker({"volume", "create", "--label", "other=1", "plainvol"});
  EXPECT_EQ(r.out, "plainvol\n") << r.err;
  EXPECT_EQ(engine_.output({"volume", "inspect", "--format", "{{json .Labels}}", "plainvol"}), "{\"a\":\"b\"}\n");

  r = engine_.docker({"volume", "rm", "plainvol", "tmpvol", anonymous});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "plainvol\ntmpvol\n" + anonymous + "\n");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), "");
  EXPECT_FALSE(fs::exists(engine_.dataRoot() + "/volumes/plainvol"));
  EXPECT_EQ(engine_.output({"info", "--format", "{{json .Plugins.Volume}}"}), "[\"local\"]\n");
}

TEST_F(VolumesTest, BadInputGetsDockerdsErrorsAndCreatesNothing) {
  auto refusal = [&](const std::vector<std::string>& args) {
    auto r = engine_.docker(args);
    EXPECT_EQ(r.exitCode, 1) << r.out;
    return r.err;
  };
  EXPECT_EQ(refusal({"volume", "create", "--name", "bad name!"}),
            "Error response from daemon: create bad name!: \"bad name!\" includes invalid characters for a local "
            "volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, "
            "use absolute path\n");
  EXPECT_EQ(refusal({"volume", "create", "-d", "nosuchdriver", "v1"}),
            "Error response from daemon: create v1: error looking up volume plugin nosuchdriver: plugin "
            "\"nosuchdriver\" not found\n");
  EXPECT_EQ(refusal({"volume", "create", "--opt", "foo=bar", "x"}),
            "Error response from daemon: create x: volume name is too short, names should be at least two "
            "alphanumeric characters\n");
  EXPECT_EQ(refusal({"volume", "create", "--opt", "foo=bar", "xx"}),
            "Error response from daemon: create xx: invalid option: \"foo\"\n");
  EXPECT_EQ(refusal({"volume", "create", "--opt", "type=tmpfs", "--opt", "o=bogus=1", "tv"}),
            "Error response from daemon: create tv: missing required option: \"device\"\n");
  EXPECT_EQ(refusal({"volume", "create", "--opt", "o=size=1m", "xz"}),
            "Error response from daemon: create xz: missing required option: \"device\"\n");
  // Observed on dockerd 20.10 on a filesystem without project quotas, as berth's.
  EXPECT_EQ(refusal({"volume", "create", "--opt", "size=1m", "szv"}),
            "Error response from daemon: create szv: quota size requested but no quota support\n");
  EXPECT_EQ(refusal({"volume", "create", "--opt", "size=abc", "sza"}),
            "Error response from daemon: create sza: invalid size: 'abc'\n");
  EXPECT_EQ(refusal({"volume", "inspect", "nosuch"}), "Error response from daemon: get nosuch: no such volume\n");
  EXPECT_EQ(refusal({"volume", "rm", "nosuch"}), "Error response from daemon: get nosuch: no such volume\n");
  auto r = engine_.docker({"volume", "rm", "-f", "nosuch"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "nosuch\n");
  // The statuses: 400 for bad input, 404 for an unknown driver or volume.
  r = curl("POST", "/v1.43/volumes/create", R"({"Name":"bad name!"})");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "400") << r.out;
  r = curl("POST", "/v1.43/volumes/create", R"({"Name":"v1","Driver":"nosuchdriver"})");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "404") << r.out;
  r = curl("DELETE", "/v1.43/volumes/nosuch");
  EXPECT_EQ(r.out, "{\"message\":\"get nosuch: no such volume\"}\n\n404");
  r = curl("POST", "/v1.43/volumes/create", R"({"Name":"ok1","Labels":["not","a","map"]})");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "400") << r.out;
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), "");
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(engine_.dataRoot() + "/volumes")) entries.push_back(e.path().filename());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{".references", ".staging", ".trash"}));
}

TEST_F(VolumesTest, ListFiltersByDanglingDriverLabelAndName) {
  ASSERT_EQ(engine_.docker({"volume", "create", "--label", "tier=db", "alpha"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--label", "tier=web", "beta"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "gamma"}).exitCode, 0);
  client_.reference(kC1, {"beta"}, soon());
  auto ls = [&](const std::string& filter) { return engine_.output({"volume", "ls", "-q", "--filter", filter}); };
  EXPECT_EQ(ls("dangling=true"), "alpha\ngamma\n");
  EXPECT_EQ(ls("dangling=false"), "beta\n");
  EXPECT_EQ(ls("label=tier"), "alpha\nbeta\n");
  EXPECT_EQ(ls("label=tier=web"), "beta\n");
  EXPECT_EQ(ls("driver=local"), "alpha\nbeta\ngamma\n");
  EXPECT_EQ(ls("name=amm"), "gamma\n");
  EXPECT_EQ(ls("name=^a"), "alpha\n");
  auto r = engine_.docker({"volume", "ls", "--filter", "colour=red"});
  EXPECT_EQ(r.exitCode, 1);
  // Lower case since API 1.42 (20.10: "Invalid filter 'colour'").
  EXPECT_EQ(r.err, "Error response from daemon: invalid filter 'colour'\n");
  r = engine_.docker({"volume", "ls", "--filter", "dangling=maybe"});
  EXPECT_EQ(r.err, "Error response from daemon: invalid filter 'dangling=[maybe]'\n");
  client_.release(kC1, soon());
}

TEST_F(VolumesTest, PruneRemovesAnonymousVolumesOnlyUnlessAllAndKeepsThoseInUse) {
  std::string anon = engine_.output({"volume", "create"});
  ASSERT_EQ(anon.size(), 65u) << anon;
  anon.pop_back();
  std::ofstream(mountpoint(anon) + "/f") << std::string(1000, 'x');
  std::string usedAnon = client_.create({"", "", {}, {}, true}, soon()).volume.name;
  ASSERT_EQ(engine_.docker({"volume", "create", "named"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "named-used"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--label", "keep=1", "labelled"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "tmp"}).exitCode, 0);
  client_.reference(kC1, {usedAnon, "named-used"}, soon());
  std::string since = nowSeconds();

  // API 1.42+: only anonymous volumes no container uses.
  auto r = engine_.docker({"volume", "prune", "-f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Volumes:\n" + anon + "\n\nTotal reclaimed space: 1kB\n");
  // --filter label!=: every unused volume but the labelled one; never one with options (moby).
  r = engine_.docker({"volume", "prune", "-af", "--filter", "label!=keep"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n");
  auto expected = std::vector<std::string>{"labelled", "named-used", "tmp", usedAnon};
  std::sort(expected.begin(), expected.end());  // the CLI sorts by name
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), expected[0] + "\n" + expected[1] + "\n" + expected[2] + "\n" + expected[3] + "\n");
  // An API 1.41 client's prune removes named volumes too (moby adds all=true for it).
  r = curl("POST", "/v1.41/volumes/prune");
  EXPECT_EQ(r.out, "{\"SpaceReclaimed\":0,\"VolumesDeleted\":[\"labelled\"]}\n\n200");
  r = curl("POST", "/v1.43/volumes/prune");
  EXPECT_EQ(r.out, "{\"SpaceReclaimed\":0,\"VolumesDeleted\":[]}\n\n200");
  r = curl("POST", "/v1.43/volumes/prune?filters=%7B%22all%22%3A%5B%22maybe%22%5D%7D");
  EXPECT_EQ(r.out, "{\"message\":\"invalid filter 'all=[maybe]'\"}\n\n400");
  // moby 23+ emits destroy for each pruned volume, then prune (20.10: prune only).
  EXPECT_EQ(volumeEvents(since), "destroy " + anon + " {\"driver\":\"local\"}\n" +
                                     "prune  {\"reclaimed\":\"1000\"}\n" +
                                     "destroy named {\"driver\":\"local\"}\n" +
                                     "prune  {\"reclaimed\":\"0\"}\n" +
                                     "destroy labelled {\"driver\":\"local\"}\n" +
                                     "prune  {\"reclaimed\":\"0\"}\n" +
                                     "prune  {\"reclaimed\":\"0\"}\n");
  client_.release(kC1, soon());
}

TEST_F(VolumesTest, RemovingAVolumeInUseIsRefusedWithDockerdsConflictEvenWithForce) {
  ASSERT_EQ(engine_.docker({"volume", "create", "plainvol"}).exitCode, 0);
  client_.reference(kC1, {"plainvol"}, soon());
  for (bool force : {false, true}) {
    std::vector<std::string> args = {"volume", "rm"};
    if (force) args.push_back("-f");
    args.push_back("plainvol");
    auto r = engine_.docker(args);
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.err, "Error response from daemon: remove plainvol: volume is in use - [" + kC1 + "]\n");
  }
  auto r = curl("DELETE", "/v1.43/volumes/plainvol");
  EXPECT_EQ(r.out.substr(r.out.rfind('\n') + 1), "409");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q", "--filter", "dangling=false"}), "plainvol\n");
  client_.release(kC1, soon());
  r = engine_.docker({"volume", "rm", "plainvol"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), "");
}

TEST_F(VolumesTest, ATmpfsVolumeIsMountedByItsFirstUserAndItsDataGoesWithTheLast) {
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt",
                            "o=size=1m,uid=1000", "tv"})
                .exitCode,
            0);
  std::string since = nowSeconds();
  std::string path = client_.mount(kC1, "tv", "/d", true, "", soon());
  EXPECT_EQ(path, mountpoint("tv"));
  EXPECT_EQ(mountTypeAt(path), "tmpfs");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u) << "o=uid=1000 reached the tmpfs";
  std::ofstream(path + "/kept") << "while mounted";
  // A second user shares the same tmpfs; the first one's unmount leaves it.
  EXPECT_EQ(client_.mount(kC2, "tv", "/e", false, "", soon()), path);
  client_.unmount(kC1, "tv", soon());
  EXPECT_EQ(mountTypeAt(path), "tmpfs");
  EXPECT_EQ(readFile(path + "/kept"), "while mounted");
  // The last unmount unmounts it, and its data is gone, as with dockerd.
  client_.unmount(kC2, "tv", soon());
  EXPECT_EQ(mountTypeAt(path), "");
  EXPECT_FALSE(fs::exists(path + "/kept"));
  client_.mount(kC1, "tv", "/d", true, "", soon());
  EXPECT_TRUE(fs::is_empty(path)) << "a fresh tmpfs";
  client_.release(kC1, soon());
  EXPECT_EQ(mountTypeAt(path), "") << "release unmounts what the container held";
  client_.release(kC2, soon());
  EXPECT_EQ(volumeEvents(since),
            "mount tv {\"container\":\"" + kC1 + "\",\"destination\":\"/d\",\"driver\":\"local\",\"propagation\":\"\"," +
                "\"read/write\":\"true\"}\n" +
                "mount tv {\"container\":\"" + kC2 + "\",\"destination\":\"/e\",\"driver\":\"local\",\"propagation\":\"\"," +
                "\"read/write\":\"false\"}\n" +
                "unmount tv {\"container\":\"" + kC1 + "\",\"driver\":\"local\"}\n" +
                "unmount tv {\"container\":\"" + kC2 + "\",\"driver\":\"local\"}\n" +
                "mount tv {\"container\":\"" + kC1 + "\",\"destination\":\"/d\",\"driver\":\"local\",\"propagation\":\"\"," +
                "\"read/write\":\"true\"}\n");
  auto r = engine_.docker({"volume", "rm", "tv"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

TEST_F(VolumesTest, ABindTypeVolumeShowsTheHostDirectoryAndABadDeviceGetsDockerdsMessage) {
  std::string host = work_.path() + "/host";
  fs::create_directories(host);
  std::ofstream(host + "/on-host") << "host data";
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=" + host, "bound"})
                .exitCode,
            0);
  std::string path = client_.mount(kC1, "bound", "/h", true, "", soon());
  EXPECT_EQ(readFile(path + "/on-host"), "host data");
  std::ofstream(path + "/from-volume") << "written through";
  client_.unmount(kC1, "bound", soon());
  EXPECT_EQ(mountTypeAt(path), "");
  EXPECT_EQ(readFile(host + "/from-volume"), "written through");
  // Still referenced by kC1 (a stopped container) until it is released.
  auto r = engine_.docker({"volume", "rm", "bound"});
  EXPECT_EQ(r.err, "Error response from daemon: remove bound: volume is in use - [" + kC1 + "]\n");
  client_.release(kC1, soon());
  // Removing the volume removes its mount point, never the host directory's content.
  r = engine_.docker({"volume", "rm", "bound"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readFile(host + "/on-host"), "host data");

  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/nonexistent",
                            "bv"})
                .exitCode,
            0);
  try {
    client_.mount(kC1, "bv", "/d", true, "", soon());
    FAIL() << "mounted a missing device";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    // dockerd 20.10's words, with berth's data root.
    EXPECT_EQ(std::string(e.what()), "error while mounting volume '" + mountpoint("bv") +
                                         "': failed to mount local volume: mount /nonexistent:" + mountpoint("bv") +
                                         ", flags: 0x1000: no such file or directory");
  }
  EXPECT_EQ(engine_.output({"volume", "inspect", "--format", "{{.Name}}", "bv"}), "bv\n");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q", "--filter", "dangling=true"}), "bv\n") << "a failed mount holds nothing";
}

TEST_F(VolumesTest, MountCopiesTheImageDirectoryIntoAnEmptyVolumeWithoutFollowingLinks) {
  // A stand-in for a container's mounted root filesystem: the image's /data with a file owned
  // by another user, a subdirectory, and links that point at host paths.
  std::string rootfs = work_.path() + "/rootfs";
  fs::create_directories(rootfs + "/data/sub");
  std::ofstream(rootfs + "/data/file") << "hello\n";
  ASSERT_EQ(::chown((rootfs + "/data/file").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod((rootfs + "/data").c_str(), 0750), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (rootfs + "/data/link").c_str()), 0);
  ASSERT_EQ(::symlink("/etc", (rootfs + "/data/etc-link").c_str()), 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "cv"}).exitCode, 0);
  std::string path = client_.mount(kC1, "cv", "/data", true, rootfs + "/data", soon());
  EXPECT_EQ(readFile(path + "/file"), "hello\n");
  struct stat st {};
  ASSERT_EQ(::lstat((path + "/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "the volume takes the image directory's mode, as with dockerd";
  EXPECT_EQ(fs::read_symlink(path + "/link"), "/etc/passwd");
  EXPECT_TRUE(fs::is_symlink(path + "/etc-link"));
  EXPECT_TRUE(fs::is_directory(path + "/sub"));
  client_.unmount(kC1, "cv", soon());
  // A volume with content is never copied into again.
  std::ofstream(rootfs + "/data/later") << "new in the image";
  client_.mount(kC2, "cv", "/data", true, rootfs + "/data", soon());
  EXPECT_FALSE(fs::exists(path + "/later"));
  client_.release(kC1, soon());
  client_.release(kC2, soon());
}

TEST_F(VolumesTest, ReconcileReplacesTheTablesAndUnmountsWhatNoContainerHolds) {
  ASSERT_EQ(engine_.docker({"volume", "create", "a1"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "tv"}).exitCode, 0);
  client_.reference(kC1, {"a1"}, soon());
  client_.mount(kC1, "tv", "/t", true, "", soon());
  ASSERT_EQ(mountTypeAt(mountpoint("tv")), "tmpfs");
  // The bridge's view after its restore: kC1 is gone, kC2 references a1 and runs with tv.
  client_.reconcile({{kC2, {"a1"}, {"tv"}}}, soon());
  EXPECT_EQ(engine_.output({"volume", "ls", "-q", "--filter", "dangling=false"}), "a1\ntv\n");
  auto r = engine_.docker({"volume", "rm", "a1"});
  EXPECT_EQ(r.err, "Error response from daemon: remove a1: volume is in use - [" + kC2 + "]\n");
  EXPECT_EQ(mountTypeAt(mountpoint("tv")), "tmpfs") << "kC2 holds it";
  client_.reconcile({}, soon());
  EXPECT_EQ(mountTypeAt(mountpoint("tv")), "") << "nobody holds it any more";
  EXPECT_EQ(engine_.output({"volume", "ls", "-q", "--filter", "dangling=true"}), "a1\ntv\n");
}

TEST_F(VolumesTest, KillingTheServiceKeepsHeldMountsReferencesAndData) {
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "tv"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "idle"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "named"}).exitCode, 0);
  client_.reference(kC2, {"named"}, soon());
  std::string path = client_.mount(kC1, "tv", "/d", true, "", soon());
  std::ofstream(path + "/data") << "survives";
  pid_t old = engine_.childPid("volumes");
  killPid(old, SIGKILL);
  ASSERT_NO_THROW(engine_.awaitRestart("volumes", old));
  // What a container holds stays mounted with its data; the lists are right.
  EXPECT_EQ(mountTypeAt(path), "tmpfs");
  EXPECT_EQ(readFile(path + "/data"), "survives");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), "idle\nnamed\ntv\n");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q", "--filter", "dangling=false"}), "named\ntv\n");
  auto r = engine_.docker({"volume", "rm", "named"});
  EXPECT_EQ(r.err, "Error response from daemon: remove named: volume is in use - [" + kC2 + "]\n");
  // A new user mounts the very same tmpfs, not a fresh one.
  client_.mount(kC2, "tv", "/d", true, "", soon());
  EXPECT_EQ(readFile(path + "/data"), "survives");
  client_.unmount(kC1, "tv", soon());
  EXPECT_EQ(mountTypeAt(path), "tmpfs");
  client_.unmount(kC2, "tv", soon());
  EXPECT_EQ(mountTypeAt(path), "") << "the last unmount after the restart unmounts it";
  client_.release(kC1, soon());
  client_.release(kC2, soon());
}

TEST_F(VolumesTest, AKillInTheMiddleOfACreateLeavesEachVolumeWholeOrAbsent) {
  std::string root = engine_.dataRoot() + "/volumes";
  pid_t old = engine_.childPid("volumes");
  // Twenty confirmed before the kill, so the checks below have volumes to check.
  std::vector<std::string> confirmed;
  for (int i = 0; i < 20; ++i) {
    std::string name = "v" + std::to_string(i);
    client_.create({name, "", {{"n", std::to_string(i)}}, {}, false}, soon());
    confirmed.push_back(name);
  }
  DirectoryWatch staging(root + "/.staging");
  std::atomic<int> attempted{20};
  std::string interruption;
  std::thread creator([&] {
    for (int i = 20; i < 500; ++i) {
      std::string name = "v" + std::to_string(i);
      attempted = i + 1;
      try {
        volumes::VolumesClient client(context_, endpoint());
        client.create({name, "", {{"n", std::to_string(i)}}, {}, false}, deadlineIn(5s));
        confirmed.push_back(name);
      } catch (const Error& e) {
        interruption = e.what();  // the service died under this create (asserted below)
        return;
      }
    }
  });
  // The gate: a create is staging a volume right now.
  bool staged = staging.wait(10s);
  if (staged) killPid(old, SIGKILL);
  creator.join();
  ASSERT_TRUE(staged) << "no create reached the staging directory";
  ASSERT_LT(static_cast<int>(confirmed.size()), attempted.load()) << "the kill interrupted no create";
  EXPECT_NE(interruption.find("went away during the call"), std::string::npos) << interruption;
  ASSERT_GE(confirmed.size(), 20u);
  ASSERT_NO_THROW(engine_.awaitRestart("volumes", old));
  // Every confirmed volume is listed; whatever is listed is whole; nothing is left staged.
  auto listed = engine_.output({"volume", "ls", "-q"});
  for (const auto& name : confirmed) EXPECT_NE(listed.find(name + "\n"), std::string::npos) << name;
  int whole = 0;
  for (const auto& v : client_.list("", false, soon())) {
    EXPECT_TRUE(fs::is_directory(v.mountpoint)) << v.name;
    EXPECT_EQ(v.labels.at("n"), v.name.substr(1)) << v.name;
    ++whole;
  }
  EXPECT_GE(whole, static_cast<int>(confirmed.size()));
  EXPECT_LE(whole, static_cast<int>(confirmed.size()) + 1) << "at most the interrupted one more";
  EXPECT_TRUE(fs::is_empty(root + "/.staging"));
  // The interrupted name can be created (or exists whole).
  std::string last = "v" + std::to_string(attempted.load() - 1);
  auto r = engine_.docker({"volume", "create", last});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

TEST_F(VolumesTest, AKillInTheMiddleOfARemoveLeavesTheVolumeGone) {
  ASSERT_EQ(engine_.docker({"volume", "create", "big"}).exitCode, 0);
  // Enough files that deleting them outlasts the kill.
  std::string data = mountpoint("big");
  for (int d = 0; d < 40; ++d) {
    std::string dir = data + "/d" + std::to_string(d);
    fs::create_directories(dir);
    for (int f = 0; f < 500; ++f) std::ofstream(dir + "/f" + std::to_string(f)) << "x";
  }
  std::string root = engine_.dataRoot() + "/volumes";
  DirectoryWatch trash(root + "/.trash");
  pid_t old = engine_.childPid("volumes");
  CommandResult rm;
  std::thread remover([&] { rm = engine_.docker({"volume", "rm", "big"}); });
  bool trashed = trash.wait(20s);
  if (trashed) killPid(old, SIGKILL);
  remover.join();
  ASSERT_TRUE(trashed) << "the remove never moved the volume out of the store";
  // The precondition: the service died before answering the remove.
  ASSERT_EQ(rm.exitCode, 1) << rm.out;
  EXPECT_NE(rm.err.find("went away during the call"), std::string::npos) << rm.err;
  ASSERT_NO_THROW(engine_.awaitRestart("volumes", old));
  auto r = engine_.docker({"volume", "inspect", "big"});
  EXPECT_EQ(r.err, "Error response from daemon: get big: no such volume\n");
  EXPECT_EQ(engine_.output({"volume", "ls", "-q"}), "");
  EXPECT_FALSE(fs::exists(root + "/big"));
  EXPECT_TRUE(waitFor([&] { return fs::is_empty(root + "/.trash"); }, 10s)) << "the new service empties the trash";
  r = engine_.docker({"volume", "create", "big"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(fs::is_empty(mountpoint("big")));
}

TEST_F(VolumesTest, SystemDfCountsVolumesWithTheirSizesAndReferences) {
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/busybox:1")}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "named"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "tv"}).exitCode, 0);
  std::ofstream(mountpoint("named") + "/f") << std::string(1000, 'x');
  // dockerd 20.10's table for one unused image and one unused 1000-byte volume (report case 9);
  // a volume with options is not local disk usage (moby's LocalVolumesSize).
  auto df = engine_.output({"system", "df"});
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  };
  auto table = lines(df);
  ASSERT_EQ(table.size(), 5u) << df;
  EXPECT_EQ(table[0], "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE");
  EXPECT_EQ(table[1].substr(0, 36), "Images          1         0         ") << df;
  EXPECT_EQ(table[2], "Containers      0         0         0B        0B");
  EXPECT_EQ(table[3], "Local Volumes   1         0         1kB       1kB (100%)");
  EXPECT_EQ(table[4], "Build Cache     0         0         0B        0B");
  // Referenced by a container: active, with one link.
  auto created = engine_.docker({"create", "--pull", "never", "--network", "none", "berth-test/busybox:1", "true"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  std::string id = created.out.substr(0, 64);
  client_.reference(id, {"named"}, soon());
  table = lines(engine_.output({"system", "df"}));
  ASSERT_EQ(table.size(), 5u);
  EXPECT_EQ(table[1].substr(0, 36), "Images          1         1         ");
  EXPECT_EQ(table[2].substr(0, 36), "Containers      1         0         ");
  EXPECT_EQ(table[3], "Local Volumes   1         1         1kB       0B (0%)");
  auto verbose = engine_.output({"system", "df", "-v"});
  EXPECT_NE(verbose.find("Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nnamed         1         1kB\n"),
            std::string::npos)
      << verbose;
  EXPECT_NE(verbose.find(id.substr(0, 12) + "   berth-test/busybox:1   \"true\""), std::string::npos) << verbose;
  // The raw document: UsageData on volumes, the image's container count, an empty build cache.
  auto r = curl("GET", "/v1.43/system/df");
  auto doc = json::parse(r.out.substr(0, r.out.rfind('\n')));
  ASSERT_EQ(doc["Volumes"].size(), 1u);
  EXPECT_EQ(doc["Volumes"][0]["UsageData"], json({{"RefCount", 1}, {"Size", 1000}}));
  EXPECT_EQ(doc["Images"][0]["Containers"], 1);
  EXPECT_EQ(doc["Images"][0]["SharedSize"], 0);
  EXPECT_EQ(doc["LayersSize"], doc["Images"][0]["Size"]);
  EXPECT_EQ(doc["Containers"].size(), 1u);
  EXPECT_EQ(doc["BuildCache"], json::array());
  r = curl("GET", "/v1.43/system/df?type=volume");
  doc = json::parse(r.out.substr(0, r.out.rfind('\n')));
  EXPECT_TRUE(doc["Images"].is_null() && doc["Containers"].is_null()) << r.out;
  EXPECT_EQ(doc["Volumes"].size(), 1u);
  client_.release(id, soon());
  EXPECT_EQ(engine_.docker({"rm", id}).exitCode, 0);
}
}  // namespace
}  // namespace berth::test
