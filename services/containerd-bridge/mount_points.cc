#include "services/containerd-bridge/mount_points.h"

#include <set>
#include <sstream>

#include "common/errors.h"
#include "common/json_text.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::string& message) { throw Error(ErrorKind::invalid, message); }

const std::set<std::string> kPropagations = {"private", "rprivate", "shared", "rshared", "slave", "rslave"};

bool validMode(const std::string& mode) {
  std::stringstream ss(mode);
  std::string part;
  bool any = false;
  while (std::getline(ss, part, ',')) {
    if (part != "ro" && part != "rw" && part != "z" && part != "Z" && part != "nocopy" && !kPropagations.count(part)) {
      return false;
    }
    any = true;
  }
  return any;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::stringstream ss(text);
  while (std::getline(ss, part, sep)) out.push_back(part);
  if (!text.empty() && text.back() == sep) out.push_back("");
  return out;
}

// One HostConfig.Binds entry, as dockerd's linux parser reads it: "dst", "src:dst",
// "dst:mode" or "src:dst:mode"; an absolute source is a bind, any other a named volume.
MountPoint parseBind(const std::string& spec) {
  auto parts = split(spec, ':');
  MountPoint p;
  std::string mode;
  auto bad = [&](const std::string& why) { invalid("invalid volume specification: '" + spec + "'" + why); };
  if (parts.size() == 1) {
    p.destination = parts[0];
  } else if (parts.size() == 2) {
    if (validMode(parts[1])) {
      p.destination = parts[0];
      mode = parts[1];
    } else {
      p.source = parts[0];
      p.destination = parts[1];
    }
  } else if (parts.size() == 3) {
    p.source = parts[0];
    p.destination = parts[1];
    mode = parts[2];
  } else {
    bad("");
  }
  if (p.destination.empty()) bad("");
  p.type = !p.source.empty() && p.source.front() == '/' ? MountPoint::Type::bind : MountPoint::Type::volume;
  std::string typeName = p.type == MountPoint::Type::bind ? "bind" : "volume";
  if (p.destination.front() != '/') {
    bad(": invalid mount config for type \"" + typeName + "\": invalid mount path: '" + p.destination +
        "' mount path must be absolute");
  }
  if (!mode.empty() && !validMode(mode)) invalid("invalid mode: " + mode);
  p.mode = mode;
  for (const auto& m : split(mode, ',')) {
    if (m == "ro") p.readWrite = false;
    if (m == "rw") p.readWrite = true;
    if (m == "nocopy") {
      if (p.type == MountPoint::Type::bind) bad(": invalid mount config for type \"bind\": field VolumeOptions must not be specified");
      p.copyData = false;
    }
    if (kPropagations.count(m)) p.propagation = m;
  }
  if (p.type == MountPoint::Type::volume) {
    p.name = p.source;
    p.source.clear();
    p.anonymous = p.name.empty();
    p.driver = "local";
    // dockerd shows a named -v volume's mode as "z" when none was given.
    if (p.mode.empty() && !p.anonymous) p.mode = "z";
  } else if (p.propagation.empty()) {
    p.propagation = "rprivate";
  }
  return p;
}

// One HostConfig.Mounts entry of type volume.
MountPoint parseVolumeMount(const json& m) {
  MountPoint p;
  p.type = MountPoint::Type::volume;
  p.name = m.value("Source", "");
  p.anonymous = p.name.empty();
  p.destination = m.value("Target", "");
  if (p.destination.empty() || p.destination.front() != '/') {
    invalid("invalid mount config for type \"volume\": invalid mount path: '" + p.destination +
            "' mount path must be absolute");
  }
  p.readWrite = !m.value("ReadOnly", false);
  p.driver = "local";
  if (!p.anonymous) p.mode = "z";  // as dockerd shows a named volume given without a mode
  if (m.contains("VolumeOptions") && m["VolumeOptions"].is_object()) {
    const auto& o = m["VolumeOptions"];
    p.copyData = !o.value("NoCopy", false);
    p.labels = stringEntries(o.value("Labels", json()));
    if (o.contains("DriverConfig") && o["DriverConfig"].is_object()) {
      std::string driver = o["DriverConfig"].value("Name", "");
      if (!driver.empty()) p.driver = driver;
      p.driverOptions = stringEntries(o["DriverConfig"].value("Options", json()));
    }
  }
  return p;
}

}  // namespace

json MountPoint::toJson() const {
  return {{"Type", type == Type::bind ? "bind" : type == Type::volume ? "volume" : "tmpfs"},
          {"Source", source},
          {"Name", name},
          {"Destination", destination},
          {"RW", readWrite},
          {"Mode", mode},
          {"Propagation", propagation},
          {"CopyData", copyData},
          {"Driver", driver},
          {"Anonymous", anonymous}};
}

MountPoint MountPoint::fromJson(const json& j) {
  MountPoint p;
  std::string type = j.value("Type", "bind");
  p.type = type == "volume" ? Type::volume : type == "tmpfs" ? Type::tmpfs : Type::bind;
  p.source = j.value("Source", "");
  p.name = j.value("Name", "");
  p.destination = j.value("Destination", "");
  p.readWrite = j.value("RW", true);
  p.mode = j.value("Mode", "");
  p.propagation = j.value("Propagation", "");
  p.copyData = j.value("CopyData", true);
  p.driver = j.value("Driver", "");
  p.anonymous = j.value("Anonymous", false);
  return p;
}

std::vector<MountPoint> planMountPoints(const json& config, const json& hostConfig, const MountPointsOf& mountPointsOf) {
  std::map<std::string, MountPoint> byDestination;
  // --volumes-from first: the container's own mounts may take their places.
  if (hostConfig.contains("VolumesFrom") && hostConfig["VolumesFrom"].is_array()) {
    for (const auto& entry : hostConfig["VolumesFrom"]) {
      if (!entry.is_string()) continue;
      auto parts = split(entry.get<std::string>(), ':');
      if (parts.empty() || parts[0].empty() || parts.size() > 2) invalid("invalid volumes-from: " + entry.get<std::string>());
      std::string mode = parts.size() == 2 ? parts[1] : "";
      if (!mode.empty() && mode != "ro" && mode != "rw") invalid("invalid mode: " + mode);
      for (auto p : mountPointsOf(parts[0])) {
        if (mode == "ro") p.readWrite = false;
        if (mode == "rw") p.readWrite = true;
        p.anonymous = false;  // it belongs to the other container: rm -v of this one keeps it
        byDestination[p.destination] = p;
      }
    }
  }
  std::set<std::string> own;
  if (hostConfig.contains("Tmpfs") && hostConfig["Tmpfs"].is_object()) {
    for (auto it = hostConfig["Tmpfs"].begin(); it != hostConfig["Tmpfs"].end(); ++it) own.insert(it.key());
  }
  auto add = [&](MountPoint p) {
    if (!own.insert(p.destination).second) invalid("Duplicate mount point: " + p.destination);
    byDestination[p.destination] = std::move(p);
  };
  if (hostConfig.contains("Binds") && hostConfig["Binds"].is_array()) {
    for (const auto& b : hostConfig["Binds"]) {
      if (!b.is_string()) invalid("invalid volume specification: Binds entries are strings");
      add(parseBind(b.get<std::string>()));
    }
  }
  if (hostConfig.contains("Mounts") && hostConfig["Mounts"].is_array()) {
    for (const auto& m : hostConfig["Mounts"]) {
      if (!m.is_object()) invalid("invalid mount config: not an object");
      std::string type = m.value("Type", "");
      if (type == "volume") {
        add(parseVolumeMount(m));
      } else if (type == "bind") {
        MountPoint p;
        p.type = MountPoint::Type::bind;
        p.source = m.value("Source", "");
        p.destination = m.value("Target", "");
        p.readWrite = !m.value("ReadOnly", false);
        p.propagation = "rprivate";
        if (m.contains("BindOptions") && m["BindOptions"].is_object()) {
          std::string prop = m["BindOptions"].value("Propagation", "");
          if (!prop.empty()) p.propagation = prop;
        }
        add(p);
      } else if (type == "tmpfs") {
        MountPoint p;
        p.type = MountPoint::Type::tmpfs;
        p.destination = m.value("Target", "");
        p.readWrite = !m.value("ReadOnly", false);
        add(p);
      }
    }
  }
  // The image's VOLUMEs and -v /path: an anonymous volume where nothing else is mounted.
  if (config.contains("Volumes") && config["Volumes"].is_object()) {
    for (auto it = config["Volumes"].begin(); it != config["Volumes"].end(); ++it) {
      std::string dst = it.key();
      if (dst.empty() || dst.front() != '/') {
        invalid("invalid volume specification: '" + dst + "': invalid mount config for type \"volume\": invalid mount path: '" +
                dst + "' mount path must be absolute");
      }
      if (byDestination.count(dst)) continue;
      if (hostConfig.contains("Tmpfs") && hostConfig["Tmpfs"].is_object() && hostConfig["Tmpfs"].contains(dst)) continue;
      MountPoint p;
      p.type = MountPoint::Type::volume;
      p.destination = dst;
      p.anonymous = true;
      p.driver = "local";
      byDestination[dst] = p;
    }
  }
  std::vector<MountPoint> out;
  for (auto& [dst, p] : byDestination) out.push_back(std::move(p));
  return out;
}

json hostConfigForSpec(const json& hostConfig) {
  json h = hostConfig;
  if (h.contains("Binds") && h["Binds"].is_array()) {
    json binds = json::array();
    for (const auto& b : h["Binds"]) {
      if (b.is_string() && parseBind(b.get<std::string>()).type == MountPoint::Type::bind) binds.push_back(b);
    }
    h["Binds"] = binds;
  }
  if (h.contains("Mounts") && h["Mounts"].is_array()) {
    json mounts = json::array();
    for (const auto& m : h["Mounts"]) {
      if (!m.is_object() || m.value("Type", "") != "volume") mounts.push_back(m);
    }
    h["Mounts"] = mounts;
  }
  h.erase("VolumesFrom");
  return h;
}

json volumeSpecMount(const MountPoint& point, const std::string& path) {
  return {{"destination", point.destination},
          {"type", "bind"},
          {"source", path},
          {"options", {"rbind", point.readWrite ? "rw" : "ro", "rprivate"}}};
}

}  // namespace berth::bridge
