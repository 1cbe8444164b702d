// The local driver: option validation with dockerd's messages (observed on dockerd 20.10,
// /root/refcheck-REPORT.md case 9, and moby 24's volume/local), moby/sys/mount's splitting of
// `o` into flags and data, go-units sizes, and the steps and messages of a device mount,
// against a fake kernel.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include "common/errors.h"
#include "services/volumes/local_driver.h"
#include "services/volumes/volume_names.h"
#include "tests/unit/fake_mounter.h"

namespace berth::volumes {
namespace {

std::string refusal(const Options& options) {
  try {
    LocalDriver::validate(options);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid) << e.what();
    return e.what();
  }
  return "accepted";
}

TEST(LocalDriverOptions, AcceptsNoOptionsATmpfsAndABind) {
  EXPECT_EQ(refusal({}), "accepted");
  EXPECT_EQ(refusal({{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m,uid=1000"}}), "accepted");
  EXPECT_EQ(refusal({{"type", "none"}, {"device", "/srv/data"}, {"o", "bind"}}), "accepted");
  EXPECT_EQ(refusal({{"size", "0"}}), "accepted");  // dockerd accepts a zero quota
}

TEST(LocalDriverOptions, RefusesAnUnknownKeyWithDockerdsMessage) {
  EXPECT_EQ(refusal({{"foo", "bar"}}), "invalid option: \"foo\"");
  EXPECT_EQ(refusal({{"foo", "bar"}, {"type", "tmpfs"}, {"device", "tmpfs"}}), "invalid option: \"foo\"");
}

TEST(LocalDriverOptions, RefusesTypeOrOWithoutDeviceAndDeviceWithoutType) {
  EXPECT_EQ(refusal({{"type", "tmpfs"}, {"o", "bogus=1"}}), "missing required option: \"device\"");
  EXPECT_EQ(refusal({{"o", "size=1m"}}), "missing required option: \"device\"");
  EXPECT_EQ(refusal({{"type", "tmpfs"}}), "missing required option: \"device\"");
  EXPECT_EQ(refusal({{"device", "/tmp"}, {"o", "bind"}}), "missing required option: \"type\"");
  EXPECT_EQ(refusal({{"device", "/tmp"}}), "missing required option: \"type\"");
}

TEST(LocalDriverOptions, RefusesASizeThatIsNotOneAndAnyQuota) {
  EXPECT_EQ(refusal({{"size", "abc"}}), "invalid size: 'abc'");
  EXPECT_EQ(refusal({{"size", "-1"}}), "invalid size: '-1'");
  EXPECT_EQ(refusal({{"size", "1m"}}), "quota size requested but no quota support");
}

TEST(LocalDriverOptions, NeedsAMountOnlyWithATypeOrADevice) {
  EXPECT_FALSE(LocalDriver::needsMount({}));
  EXPECT_FALSE(LocalDriver::needsMount({{"size", "0"}}));
  EXPECT_TRUE(LocalDriver::needsMount({{"type", "tmpfs"}, {"device", "tmpfs"}}));
}

TEST(MountOptions, SplitsFlagWordsFromFilesystemDataAsMobyDoes) {
  auto m = parseMountOptions("size=1m,uid=1000");
  EXPECT_EQ(m.flags, 0u);
  EXPECT_EQ(m.data, "size=1m,uid=1000");
  m = parseMountOptions("bind");
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND));
  EXPECT_EQ(m.data, "");
  m = parseMountOptions("ro,nosuid,nodev,noexec,size=64k");
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
  EXPECT_EQ(m.data, "size=64k");
  // A later word clears an earlier one; "defaults" has no flag and is passed on as data.
  m = parseMountOptions("ro,rw,defaults,rbind,rprivate");
  EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_BIND | MS_REC | MS_PRIVATE));
  EXPECT_EQ(m.data, "defaults");
  EXPECT_EQ(parseMountOptions("").data, "");
}

TEST(MountOptions, ParsesSizesAsGoUnitsRamInBytes) {
  EXPECT_EQ(parseRamInBytes("100"), 100);
  EXPECT_EQ(parseRamInBytes("1k"), 1024);
  EXPECT_EQ(parseRamInBytes("1m"), 1 << 20);
  EXPECT_EQ(parseRamInBytes("1.5GiB"), int64_t(1.5 * (1 << 30)));
  EXPECT_EQ(parseRamInBytes("2 MB"), 2 << 20);
  EXPECT_EQ(parseRamInBytes("0"), 0);
  EXPECT_FALSE(parseRamInBytes("abc"));
  EXPECT_FALSE(parseRamInBytes("-1"));
  EXPECT_FALSE(parseRamInBytes("1x"));
  EXPECT_FALSE(parseRamInBytes(""));
}

TEST(LocalDriverMount, MountsATmpfsWithItsDataAndUnmountsDetached) {
  FakeMounter kernel;
  LocalDriver driver(kernel);
  driver.mount({{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m,uid=1000"}}, "/v/t/_data");
  ASSERT_EQ(kernel.calls.size(), 1u);
  EXPECT_EQ(kernel.calls[0].source, "tmpfs");
  EXPECT_EQ(kernel.calls[0].type, "tmpfs");
  EXPECT_EQ(kernel.calls[0].flags, 0u);
  EXPECT_EQ(kernel.calls[0].data, "size=1m,uid=1000");
  EXPECT_TRUE(driver.mounted("/v/t/_data"));
  driver.unmount("/v/t/_data");
  EXPECT_EQ(kernel.calls.back().flags, static_cast<unsigned long>(MNT_DETACH));
  EXPECT_FALSE(driver.mounted("/v/t/_data"));
  driver.unmount("/v/t/_data");  // not mounted: no error, as moby ignores EINVAL
}

TEST(LocalDriverMount, RemountsAReadOnlyBindAndAppliesPropagationApart) {
  FakeMounter kernel;
  LocalDriver driver(kernel);
  driver.mount({{"type", "none"}, {"device", "/srv"}, {"o", "bind,ro,rshared"}}, "/v/b/_data");
  ASSERT_EQ(kernel.calls.size(), 3u);
  EXPECT_EQ(kernel.calls[0].flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY | MS_REC));
  EXPECT_EQ(kernel.calls[1].flags, static_cast<unsigned long>(MS_SHARED | MS_REC));
  EXPECT_EQ(kernel.calls[2].flags, static_cast<unsigned long>(MS_BIND | MS_RDONLY | MS_REC | MS_REMOUNT));
}

TEST(LocalDriverMount, AFailedMountCarriesDockerdsWholeMessage) {
  FakeMounter kernel;
  LocalDriver driver(kernel);
  auto message = [&](const Options& o, int err) {
    kernel.failWith = err;
    try {
      driver.mount(o, "/var/lib/berth/volumes/bv/_data");
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::internal);
      return std::string(e.what());
    }
    return std::string("mounted");
  };
  // Both as dockerd 20.10 answers docker run (report case 9), with berth's path.
  EXPECT_EQ(message({{"type", "none"}, {"device", "/nonexistent"}, {"o", "bind"}}, ENOENT),
            "error while mounting volume '/var/lib/berth/volumes/bv/_data': failed to mount local volume: mount "
            "/nonexistent:/var/lib/berth/volumes/bv/_data, flags: 0x1000: no such file or directory");
  EXPECT_EQ(message({{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "bogus=1"}}, EINVAL),
            "error while mounting volume '/var/lib/berth/volumes/bv/_data': failed to mount local volume: mount "
            "tmpfs:/var/lib/berth/volumes/bv/_data, data: bogus=1: invalid argument");
  // A password in the options is masked, as dockerd masks it.
  EXPECT_EQ(message({{"type", "cifs"}, {"device", "//srv/share"}, {"o", "username=u,password=s3cret"}}, EACCES),
            "error while mounting volume '/var/lib/berth/volumes/bv/_data': failed to mount local volume: mount "
            "//srv/share:/var/lib/berth/volumes/bv/_data, data: username=u,password=********: permission denied");
  EXPECT_TRUE(kernel.mounted.empty());
}

TEST(VolumeNames, RefusesBadNamesWithDockerdsMessages) {
  auto refusal = [](const std::string& name) {
    try {
      validateVolumeName(name);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal("ab"), "accepted");
  EXPECT_EQ(refusal("my_vol.1-x"), "accepted");
  EXPECT_EQ(refusal("0abc"), "accepted");
  EXPECT_EQ(refusal("x"), "volume name is too short, names should be at least two alphanumeric characters");
  EXPECT_EQ(refusal("bad name!"),
            "\"bad name!\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
            "are allowed. If you intended to pass a host directory, use absolute path");
  EXPECT_NE(refusal("relative/path"), "accepted");
  EXPECT_NE(refusal(".hidden"), "accepted");  // so the store's own .staging and .trash never collide
  EXPECT_NE(refusal("_x"), "accepted");
  EXPECT_EQ(goQuote("a\"b\n"), "\"a\\\"b\\n\"");
}

TEST(VolumeNames, RandomNamesAre64HexAndDiffer) {
  auto a = randomVolumeName(), b = randomVolumeName();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace berth::volumes
