// The network store's on-disk root (<data-root>/network): one file per network. This issue lays
// out the root and counts; the network issue adds bridges, IPAM and port publishing.
#pragma once

#include <string>

namespace berth::network {

class NetworkStore {
 public:
  explicit NetworkStore(std::string root);
  unsigned count() const;

 private:
  std::string root_;
};

}  // namespace berth::network
