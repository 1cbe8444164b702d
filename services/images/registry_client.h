// A client for the distribution v2 API (docker-registry, any OCI registry), over libcurl.
// One instance talks to one registry host with one set of credentials. Basic auth is sent when
// credentials are given; registries that demand bearer tokens are not supported yet.
#pragma once

#include <string>

namespace berth::images {

struct RegistryCredentials {
  std::string username;
  std::string password;
};

// The largest manifest berth reads (moby's limit).
constexpr size_t kMaxManifestBytes = 4 << 20;
// The largest image config berth downloads: configs are a few KiB; a descriptor declaring more
// is refused before anything is fetched.
constexpr uint64_t kMaxConfigBytes = 8 << 20;

class RegistryClient {
 public:
  // `host` is "host[:port]"; `plainHttp` for insecure registries (plain http, as dockerd's
  // insecure-registries after its https attempt fails).
  RegistryClient(std::string host, bool plainHttp, RegistryCredentials credentials);

  // GET /v2/: throws unauthorized when the credentials are refused (or missing).
  void ping();

  struct Manifest {
    std::string mediaType;
    std::string digest;  // Docker-Content-Digest, or sha256 of the body
    std::string body;
  };
  // Accepts Docker schema 2 manifests and lists, OCI manifests and indexes.
  Manifest getManifest(const std::string& repo, const std::string& reference);
  // Downloads a blob to `path`, verifying its digest and that it is exactly `declaredSize`
  // bytes (its descriptor's size): a registry that sends more is cut off at that size. Throws
  // invalid on any mismatch.
  void fetchBlob(const std::string& repo, const std::string& digest, const std::string& path, uint64_t declaredSize);
  bool blobExists(const std::string& repo, const std::string& digest);
  // Cross-repository mount; false when the registry wants an upload instead.
  bool mountBlob(const std::string& repo, const std::string& digest, const std::string& fromRepo);
  void uploadBlob(const std::string& repo, const std::string& digest, const std::string& path);
  // Returns the manifest digest the registry reports.
  std::string putManifest(const std::string& repo, const std::string& tag, const std::string& mediaType,
                          const std::string& body);

  std::string baseUrl() const;

 private:
  struct Response {
    long status = 0;
    std::string body;
    std::string contentType;
    std::string digest;
    std::string location;
    uint64_t received = 0;   // bytes written to the download file
    bool overLimit = false;  // the body passed its limit and the transfer was cut off
  };
  Response request(const std::string& method, const std::string& url, const std::string& accept,
                   const std::string& contentType, const std::string* body, const std::string* uploadFile,
                   const std::string* downloadFile, uint64_t downloadLimit = 0);
  [[noreturn]] void fail(const std::string& what, const Response& r);

  std::string host_;
  bool plainHttp_;
  RegistryCredentials credentials_;
};

}  // namespace berth::images
