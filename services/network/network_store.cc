#include "services/network/network_store.h"

#include <filesystem>

#include "common/files.h"

namespace berth::network {

NetworkStore::NetworkStore(std::string root) : root_(std::move(root)) { makeDirectories(root_ + "/networks", 0700); }

unsigned NetworkStore::count() const {
  std::error_code ec;
  unsigned n = 0;
  for (auto it = std::filesystem::directory_iterator(root_ + "/networks", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".json") ++n;
  }
  return n;
}

}  // namespace berth::network
