#include "services/images/registry_client.h"

#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/errors.h"
#include "common/json_text.h"
#include "services/images/curl_library.h"

namespace berth::images {
namespace {

struct Sink {
  std::string* text = nullptr;
  FILE* file = nullptr;
  Sha256* hash = nullptr;
  // Manifests and error bodies are small (moby's limit for a manifest is 4 MiB); a blob goes to
  // a file and may be no larger than its descriptor declares.
  size_t limit = kMaxManifestBytes;
  uint64_t fileLimit = 0;
  uint64_t written = 0;
  bool overLimit = false;
};

size_t writeCallback(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->file) {
    if (sink->fileLimit && sink->written + n > sink->fileLimit) {
      sink->overLimit = true;  // a short count makes curl end the transfer
      return 0;
    }
    if (std::fwrite(data, 1, n, sink->file) != n) return 0;
    if (sink->hash) sink->hash->update(data, n);
    sink->written += n;
    return n;
  }
  if (sink->text->size() + n > sink->limit) {
    sink->overLimit = true;
    return 0;
  }
  sink->text->append(data, n);
  return n;
}

size_t headerCallback(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
    headers->emplace_back(name, value);
  }
  return size * count;
}

std::string registryError(const std::string& body) {
  auto j = parseJsonOrDiscarded(body);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    const auto& e = j["errors"][0];
    std::string code = e.value("code", "");
    for (auto& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : code) if (c == '_') c = ' ';
    return code + ": " + e.value("message", "");
  }
  return body.substr(0, 200);
}

}  // namespace

RegistryClient::RegistryClient(std::string host, bool plainHttp, RegistryCredentials credentials)
    : host_(std::move(host)), plainHttp_(plainHttp), credentials_(std::move(credentials)) {}

std::string RegistryClient::baseUrl() const { return (plainHttp_ ? "http://" : "https://") + host_ + "/v2/"; }

RegistryClient::Response RegistryClient::request(const std::string& method, const std::string& url,
                                                 const std::string& accept, const std::string& contentType,
                                                 const std::string* body, const std::string* uploadFile,
                                                 const std::string* downloadFile, uint64_t downloadLimit) {
  const CurlLibrary& lib = openCurl();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(lib.easyInit(), lib.easyCleanup);
  if (!curl) throw Error(ErrorKind::unavailable, method + " " + url + ": curl_easy_init failed");
  Response r;
  Sink sink;
  sink.text = &r.body;
  sink.fileLimit = downloadLimit;
  std::unique_ptr<FILE, decltype(&std::fclose)> out(nullptr, std::fclose), in(nullptr, std::fclose);
  Sha256 hash;
  std::vector<std::pair<std::string, std::string>> headers;
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> list(nullptr, lib.slistFreeAll);
  auto addHeader = [&](const std::string& header) {
    curl_slist* longer = lib.slistAppend(list.get(), header.c_str());
    if (!longer) throw Error(ErrorKind::unavailable, method + " " + url + ": curl_slist_append failed");
    list.release();  // the same list, one longer (or its first node)
    list.reset(longer);
  };
  if (!accept.empty()) addHeader("Accept: " + accept);
  if (!contentType.empty()) addHeader("Content-Type: " + contentType);
  CURL* c = curl.get();
  setOption<CURLOPT_URL>(lib, c, url.c_str());
  setOption<CURLOPT_CUSTOMREQUEST>(lib, c, method.c_str());
  if (method == "HEAD") setOption<CURLOPT_NOBODY>(lib, c, 1L);
  setOption<CURLOPT_HTTPHEADER>(lib, c, list.get());
  setOption<CURLOPT_HEADERFUNCTION>(lib, c, headerCallback);
  setOption<CURLOPT_HEADERDATA>(lib, c, &headers);
  setOption<CURLOPT_FOLLOWLOCATION>(lib, c, method == "GET" ? 1L : 0L);
  setOption<CURLOPT_CONNECTTIMEOUT>(lib, c, 10L);
  setOption<CURLOPT_LOW_SPEED_LIMIT>(lib, c, 1L);
  setOption<CURLOPT_LOW_SPEED_TIME>(lib, c, 60L);
  setOption<CURLOPT_NOSIGNAL>(lib, c, 1L);
  setOption<CURLOPT_PROTOCOLS_STR>(lib, c, "http,https");
  if (!credentials_.username.empty()) {
    setOption<CURLOPT_HTTPAUTH>(lib, c, CURLAUTH_BASIC);
    setOption<CURLOPT_USERNAME>(lib, c, credentials_.username.c_str());
    setOption<CURLOPT_PASSWORD>(lib, c, credentials_.password.c_str());
  }
  if (downloadFile) {
    out.reset(std::fopen(downloadFile->c_str(), "wb"));
    if (!out) throwSystemError("open", *downloadFile);
    sink.file = out.get();
    sink.hash = &hash;
  }
  setOption<CURLOPT_WRITEFUNCTION>(lib, c, writeCallback);
  setOption<CURLOPT_WRITEDATA>(lib, c, &sink);
  if (body) {
    setOption<CURLOPT_POSTFIELDS>(lib, c, body->data());
    setOption<CURLOPT_POSTFIELDSIZE_LARGE>(lib, c, static_cast<curl_off_t>(body->size()));
  } else if (uploadFile) {
    in.reset(std::fopen(uploadFile->c_str(), "rb"));
    if (!in) throwSystemError("open", *uploadFile);
    struct stat st {};
    ::stat(uploadFile->c_str(), &st);
    setOption<CURLOPT_UPLOAD>(lib, c, 1L);
    setOption<CURLOPT_READDATA>(lib, c, in.get());
    setOption<CURLOPT_INFILESIZE_LARGE>(lib, c, static_cast<curl_off_t>(st.st_size));
    setOption<CURLOPT_CUSTOMREQUEST>(lib, c, method.c_str());
  } else if (method == "POST" || method == "PUT") {
    setOption<CURLOPT_POSTFIELDS>(lib, c, "");
    setOption<CURLOPT_POSTFIELDSIZE_LARGE>(lib, c, static_cast<curl_off_t>(0));
  }
  CURLcode rc = lib.easyPerform(c);
  r.received = sink.written;
  if (rc != CURLE_OK && sink.overLimit) {
    r.overLimit = true;
    return r;
  }
  if (rc != CURLE_OK) {
    throw Error(ErrorKind::unavailable, method + " " + url + ": " + lib.easyStrerror(rc));
  }
  lib.easyGetinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  for (const auto& [k, v] : headers) {
    if (k == "content-type") r.contentType = v;
    if (k == "docker-content-digest") r.digest = v;
    if (k == "location") r.location = v;
  }
  if (downloadFile) {
    out.reset();
    if (r.status == 200) r.digest = hash.digest();
  }
  return r;
}

void RegistryClient::fail(const std::string& what, const Response& r) {
  if (r.status == 401) throw Error(ErrorKind::unauthorized, what + ": unauthorized: authentication required");
  if (r.status == 403) throw Error(ErrorKind::forbidden, what + ": denied: " + registryError(r.body));
  if (r.status == 404) throw Error(ErrorKind::notFound, what + ": " + registryError(r.body));
  throw Error(ErrorKind::unavailable, what + ": registry answered " + std::to_string(r.status) + ": " + registryError(r.body));
}

void RegistryClient::ping() {
  auto r = request("GET", baseUrl(), "", "", nullptr, nullptr, nullptr);
  if (r.status == 401) {
    throw Error(ErrorKind::unauthorized, "login attempt to " + baseUrl() + " failed with status: 401 Unauthorized");
  }
  if (r.status != 200) fail("GET " + baseUrl(), r);
}

RegistryClient::Manifest RegistryClient::getManifest(const std::string& repo, const std::string& reference) {
  static const std::string accept =
      "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, "
      "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
  auto r = request("GET", baseUrl() + repo + "/manifests/" + reference, accept, "", nullptr, nullptr, nullptr);
  std::string what = "manifest for " + host_ + "/" + repo + (reference.rfind("sha256:", 0) == 0 ? "@" : ":") + reference;
  if (r.overLimit) {
    throw Error(ErrorKind::invalid, what + " is larger than " + std::to_string(kMaxManifestBytes >> 20) + " MiB");
  }
  if (r.status == 404) throw Error(ErrorKind::notFound, what + " not found: " + registryError(r.body));
  if (r.status != 200) fail(what, r);
  Manifest m;
  m.body = r.body;
  m.mediaType = r.contentType.substr(0, r.contentType.find(';'));
  m.digest = "sha256:" + sha256Hex(r.body);
  if (!r.digest.empty() && r.digest != m.digest) {
    throw Error(ErrorKind::invalid, "manifest for " + repo + ":" + reference + " does not match its digest " + r.digest);
  }
  return m;
}

void RegistryClient::fetchBlob(const std::string& repo, const std::string& digest, const std::string& path,
                               uint64_t declaredSize) {
  if (declaredSize == 0) throw Error(ErrorKind::invalid, "blob " + digest + " has no size in its descriptor");
  // Never more on disk than the manifest declared, whatever the registry sends.
  auto r = request("GET", baseUrl() + repo + "/blobs/" + digest, "", "", nullptr, nullptr, &path, declaredSize);
  std::string what = "blob " + digest + " from " + host_ + "/" + repo;
  if (r.overLimit) {
    throw Error(ErrorKind::invalid, what + " is larger than the " + std::to_string(declaredSize) +
                                        " bytes its descriptor declares");
  }
  if (r.status != 200) fail("blob " + digest, r);
  if (r.received != declaredSize) {
    throw Error(ErrorKind::invalid, what + " is " + std::to_string(r.received) + " bytes, its descriptor declares " +
                                        std::to_string(declaredSize));
  }
  if (r.digest != digest) {
    throw Error(ErrorKind::invalid, "blob " + digest + " from " + host_ + "/" + repo + " has digest " + r.digest);
  }
}

bool RegistryClient::blobExists(const std::string& repo, const std::string& digest) {
  auto r = request("HEAD", baseUrl() + repo + "/blobs/" + digest, "", "", nullptr, nullptr, nullptr);
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  fail("blob " + digest, r);
}

bool RegistryClient::mountBlob(const std::string& repo, const std::string& digest, const std::string& fromRepo) {
  auto r = request("POST", baseUrl() + repo + "/blobs/uploads/?mount=" + digest + "&from=" + fromRepo, "", "",
                   nullptr, nullptr, nullptr);
  if (r.status == 201) return true;
  if (r.status == 202) {
    // An upload session was opened instead; abandon it.
    if (!r.location.empty()) {
      std::string url = r.location.rfind("http", 0) == 0 ? r.location : (plainHttp_ ? "http://" : "https://") + host_ + r.location;
      request("DELETE", url, "", "", nullptr, nullptr, nullptr);
    }
    return false;
  }
  fail("mount of " + digest, r);
}

void RegistryClient::uploadBlob(const std::string& repo, const std::string& digest, const std::string& path) {
  auto start = request("POST", baseUrl() + repo + "/blobs/uploads/", "", "", nullptr, nullptr, nullptr);
  if (start.status != 202 || start.location.empty()) fail("starting upload of " + digest, start);
  std::string url = start.location.rfind("http", 0) == 0 ? start.location
                                                          : (plainHttp_ ? "http://" : "https://") + host_ + start.location;
  url += (url.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + digest;
  auto put = request("PUT", url, "", "application/octet-stream", nullptr, &path, nullptr);
  if (put.status != 201) fail("upload of " + digest, put);
}

std::string RegistryClient::putManifest(const std::string& repo, const std::string& tag, const std::string& mediaType,
                                        const std::string& body) {
  auto r = request("PUT", baseUrl() + repo + "/manifests/" + tag, "", mediaType, &body, nullptr, nullptr);
  if (r.status != 201) fail("manifest for " + repo + ":" + tag, r);
  return r.digest;
}

}  // namespace berth::images
