// What the containers core needs of the volumes service: the volumes a container's create
// makes, the references that keep them from removal, and the mounts of a run. The RPC client of
// the volumes service implements it in berth-containerd-bridge; unit tests implement it in
// memory. The calls and their refusals are those of ipc/schema/volumes.capnp.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/deadline.h"

namespace berth::bridge {

class VolumeService {
 public:
  virtual ~VolumeService() = default;

  struct Request {
    std::string name;  // empty: a new anonymous volume with a random name
    std::string driver;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> options;
    bool anonymous = false;
  };
  struct Volume {
    std::string name;
    std::string mountpoint;  // the path a container binds while the volume is not mounted elsewhere
  };
  // Makes the volume, or returns the one of that name that exists.
  virtual Volume create(const Request& request, Deadline deadline) = 0;
  // The container references exactly these volumes (each must exist: notFound otherwise).
  virtual void reference(const std::string& container, const std::vector<std::string>& names, Deadline deadline) = 0;
  // Drops the container's references and any mount held for it.
  virtual void release(const std::string& container, Deadline deadline) = 0;
  // At the container's create: copies the image's content at `copyFrom` (a directory in the
  // container's mounted root filesystem) into the volume when the volume is empty.
  virtual void populate(const std::string& container, const std::string& name, const std::string& copyFrom,
                        Deadline deadline) = 0;
  // Makes the volume ready for the container's run; returns the host path to bind.
  virtual std::string mount(const std::string& container, const std::string& name, const std::string& destination,
                            bool readWrite, Deadline deadline) = 0;
  virtual void unmount(const std::string& container, const std::string& name, Deadline deadline) = 0;
  // docker rm -v of an anonymous volume: conflict while another container references it.
  virtual void remove(const std::string& name, Deadline deadline) = 0;

  struct Usage {
    std::string container;
    std::vector<std::string> volumes;  // referenced
    std::vector<std::string> mounted;  // mounted for its running task
  };
  // The bridge's whole view, replacing the service's reference and mount tables.
  virtual void reconcile(const std::vector<Usage>& usage, Deadline deadline) = 0;
};

}  // namespace berth::bridge
