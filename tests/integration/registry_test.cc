// docker pull, push and login against a real registry (Debian's docker-registry on
// 127.0.0.1, plain http as an insecure loopback registry), through the real docker CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tests/support/engine.h"
#include "tests/support/registry.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

class RegistryTest : public ::testing::Test {
 protected:
  std::string loadAs(const std::string& name) {
    auto r = engine_.docker({"load", "-i", busyboxArchive(work_.path(), name, 300000)});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return engine_.docker({"image", "inspect", "--format", "{{.Id}}", name}).out;
  }

  Engine engine_;
  TempDir work_{"berth-registry-test"};
};

TEST_F(RegistryTest, APushedImagePullsBackWithTheSameIdAndADigest) {
  Registry registry;
  std::string name = registry.host() + "/berth/busybox:1";
  std::string id = loadAs(name);
  auto r = engine_.docker({"push", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("The push refers to repository [" + registry.host() + "/berth/busybox]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Pushed"), std::string::npos) << r.out;
  auto at = r.out.find("1: digest: sha256:");
  ASSERT_NE(at, std::string::npos) << r.out;
  // The image has the pushed digest at once: dockerd records it with the push.
  std::string pushedDigest = r.out.substr(at + 11, 71);
  EXPECT_EQ(engine_.docker({"image", "inspect", "--format", "{{json .RepoDigests}}", name}).out,
            "[\"" + registry.host() + "/berth/busybox@" + pushedDigest + "\"]\n");
  // The registry holds it: an independent client reads the manifest.
  auto tags = run({"curl", "-s", "http://" + registry.host() + "/v2/berth/busybox/tags/list"});
  EXPECT_EQ(nlohmann::json::parse(tags.out)["tags"], nlohmann::json::array({"1"}));

  ASSERT_EQ(engine_.docker({"rmi", name}).exitCode, 0);
  ASSERT_EQ(engine_.output({"images", "-q"}), "");
  r = engine_.docker({"pull", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Digest: sha256:"), std::string::npos) << r.out;
  EXPECT_EQ(engine_.docker({"image", "inspect", "--format", "{{.Id}}", name}).out, id);
  auto digests = engine_.docker({"image", "inspect", "--format", "{{index .RepoDigests 0}}", name}).out;
  ASSERT_EQ(digests.rfind(registry.host() + "/berth/busybox@sha256:", 0), 0u) << digests;
  digests.pop_back();
  // By digest too. A pulled image's tag and digest are one repository's: rmi by id needs no -f.
  r = engine_.docker({"rmi", id.substr(7, 12)});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine_.docker({"pull", digests});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.docker({"image", "inspect", "--format", "{{.Id}}", digests}).out, id);
  // Pulled by digest alone it has no tag, yet moby's Images drops an image from dangling=false
  // only when it has neither tags nor digests, and lists it under dangling=true (no tag).
  EXPECT_EQ(engine_.output({"images", "-q", "--no-trunc", "--filter", "dangling=false"}), id);
  EXPECT_EQ(engine_.output({"images", "-q", "--no-trunc", "--filter", "dangling=true"}), id);
}

TEST_F(RegistryTest, ASecondPushFindsItsLayersAndAnotherRepositoryMountsThem) {
  Registry registry;
  std::string name = registry.host() + "/berth/app:1";
  loadAs(name);
  ASSERT_EQ(engine_.docker({"push", name}).exitCode, 0);
  auto r = engine_.docker({"push", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Layer already exists"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Pushed"), std::string::npos) << r.out;
  std::string other = registry.host() + "/berth/other:7";
  ASSERT_EQ(engine_.docker({"tag", name, other}).exitCode, 0);
  r = engine_.docker({"push", other});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Mounted from berth/app"), std::string::npos) << r.out;
}

TEST_F(RegistryTest, AManifestListPullsItsLinuxAmd64Image) {
  Registry registry;
  std::string name = registry.host() + "/berth/multi:amd64";
  std::string id = loadAs(name);
  ASSERT_EQ(engine_.docker({"push", name}).exitCode, 0);
  // A second image stands in for the arm64 variant: the index lists it first.
  std::string armName = registry.host() + "/berth/multi:arm64";
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), armName, 1000)}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"push", armName}).exitCode, 0);
  auto describe = [&](const std::string& tag) {
    auto m = run({"curl", "-s", "-D", "-", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
                  "http://" + registry.host() + "/v2/berth/multi/manifests/" + tag});
    auto at = m.out.find("Docker-Content-Digest: ");
    EXPECT_NE(at, std::string::npos) << m.out;
    auto body = m.out.substr(m.out.find("\r\n\r\n") + 4);
    return std::make_pair(m.out.substr(at + 23, 71), body.size());
  };
  auto [amdDigest, amdSize] = describe("amd64");
  auto [armDigest, armSize] = describe("arm64");
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       {{{"mediaType", "application/vnd.docker.distribution.manifest.v2+json"}, {"digest", armDigest},
         {"size", armSize}, {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}},
        {{"mediaType", "application/vnd.docker.distribution.manifest.v2+json"}, {"digest", amdDigest},
         {"size", amdSize}, {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  std::string indexPath = work_.path() + "/index.json";
  std::ofstream(indexPath) << index.dump();
  auto put = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                  "Content-Type: application/vnd.oci.image.index.v1+json", "--data-binary", "@" + indexPath,
                  "http://" + registry.host() + "/v2/berth/multi/manifests/list"});
  ASSERT_EQ(put.out, "201") << put.err;
  ASSERT_EQ(engine_.docker({"rmi", name}).exitCode, 0);
  auto r = engine_.docker({"pull", registry.host() + "/berth/multi:list"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.docker({"image", "inspect", "--format", "{{.Id}}", registry.host() + "/berth/multi:list"}).out, id);
}

// A registry that lies about sizes: Debian's docker-registry stores a manifest whose descriptors
// declare sizes other than the blobs' (it checks only that the blobs exist). berth holds every
// download to the declared size and refuses a config declared larger than 8 MiB; nothing of the
// image is stored.
TEST_F(RegistryTest, BlobsThatAreNotTheSizeTheirDescriptorsDeclareAreRefused) {
  Registry registry;
  std::string name = registry.host() + "/berth/sizes:real";
  ASSERT_FALSE(loadAs(name).empty());
  ASSERT_EQ(engine_.docker({"push", name}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"rmi", name}).exitCode, 0);
  auto fetched = run({"curl", "-sf", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
                      "http://" + registry.host() + "/v2/berth/sizes/manifests/real"});
  ASSERT_EQ(fetched.exitCode, 0) << fetched.err;
  auto manifest = nlohmann::json::parse(fetched.out);
  uint64_t layerSize = manifest["layers"][0]["size"];
  ASSERT_GT(layerSize, 300000u);
  auto putAs = [&](const std::string& tag, const nlohmann::json& m) {
    std::string path = work_.path() + "/" + tag + ".json";
    std::ofstream(path) << m.dump();
    auto put = run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H",
                    "Content-Type: application/vnd.docker.distribution.manifest.v2+json", "--data-binary", "@" + path,
                    "http://" + registry.host() + "/v2/berth/sizes/manifests/" + tag});
    ASSERT_EQ(put.out, "201") << put.err;
  };
  auto small = manifest;
  small["layers"][0]["size"] = 100;
  putAs("small", small);
  auto large = manifest;
  large["layers"][0]["size"] = layerSize + 1000;
  putAs("large", large);
  auto bigConfig = manifest;
  bigConfig["config"]["size"] = 9 << 20;
  putAs("bigconfig", bigConfig);

  auto r = engine_.docker({"pull", registry.host() + "/berth/sizes:small"});
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.err.find("is larger than the 100 bytes its descriptor declares"), std::string::npos) << r.err;
  r = engine_.docker({"pull", registry.host() + "/berth/sizes:large"});
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.err.find("is " + std::to_string(layerSize) + " bytes, its descriptor declares " +
                       std::to_string(layerSize + 1000)),
            std::string::npos)
      << r.err;
  r = engine_.docker({"pull", registry.host() + "/berth/sizes:bigconfig"});
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.err.find("declares 9437184 bytes, more than the 8 MiB allowed"), std::string::npos) << r.err;
  EXPECT_EQ(engine_.output({"images", "-aq"}), "");
  // The honest manifest still pulls.
  r = engine_.docker({"pull", name});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

// libcurl and the 18 libraries it brings (GnuTLS among them) cost a fresh berth-images 3 MB of
// memory; an engine that never talks to a registry should not pay it.
TEST_F(RegistryTest, TheImagesServiceOpensLibcurlAtItsFirstRegistryCallNotBefore) {
  Registry registry;
  pid_t images = engine_.childPid("images");
  std::string name = registry.host() + "/berth/busybox:lazy";
  loadAs(name);  // a load reads and writes layers, without the registry
  ASSERT_TRUE(mapsLibrary(images, "libarchive.so"));  // the reading works
  EXPECT_FALSE(mapsLibrary(images, "libcurl.so"));
  EXPECT_FALSE(mapsLibrary(images, "libgnutls.so"));

  auto r = engine_.docker({"push", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(engine_.childPid("images"), images);
  EXPECT_TRUE(mapsLibrary(images, "libcurl.so"));
  ASSERT_EQ(engine_.docker({"rmi", name}).exitCode, 0);
  r = engine_.docker({"pull", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Digest: sha256:"), std::string::npos) << r.out;
}

TEST_F(RegistryTest, PullingAMissingTagFailsAndStoresNothing) {
  Registry registry;
  auto r = engine_.docker({"pull", registry.host() + "/berth/nothing:here"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_EQ(engine_.output({"images", "-aq"}), "");
}

TEST_F(RegistryTest, AnAuthenticatedRegistryNeedsDockerLogin) {
  Registry registry("berth", "s3cret-pass");
  std::string name = registry.host() + "/private/busybox:1";
  loadAs(name);
  auto r = engine_.docker({"push", name});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("unauthorized"), std::string::npos) << r.err;
  r = engine_.docker({"login", "-u", "berth", "-p", "wrong", registry.host()});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("401 Unauthorized"), std::string::npos) << r.err;
  r = engine_.docker({"login", "-u", "berth", "-p", "s3cret-pass", registry.host()});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Login Succeeded"), std::string::npos) << r.out;
  r = engine_.docker({"push", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(engine_.docker({"rmi", name}).exitCode, 0);
  r = engine_.docker({"pull", name});
  ASSERT_EQ(r.exitCode, 0) << r.err;
}

}  // namespace
}  // namespace berth::test
