#include "common/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/files.h"
#include "common/json_text.h"

namespace berth {
namespace {

using json = nlohmann::json;

const std::set<std::string> kLogLevels = {"debug", "info", "warn", "error", "fatal"};

HostAddress parseHost(const std::string& raw) {
  HostAddress h;
  h.original = raw;
  auto take = [&](std::string_view prefix) {
    if (raw.rfind(prefix, 0) == 0) {
      h.address = raw.substr(prefix.size());
      return true;
    }
    return false;
  };
  if (take("unix://")) {
    h.kind = HostAddress::Kind::unix;
    if (h.address.empty() || h.address.front() != '/') {
      throw ConfigError("invalid host " + raw + ": unix socket path must be absolute");
    }
  } else if (take("tcp://")) {
    h.kind = HostAddress::Kind::tcp;
    auto colon = h.address.rfind(':');
    if (colon == std::string::npos || colon + 1 == h.address.size()) {
      throw ConfigError("invalid host " + raw + ": tcp address needs host:port");
    }
    std::string port = h.address.substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
      throw ConfigError("invalid host " + raw + ": bad port " + port);
    }
  } else if (take("fd://")) {
    h.kind = HostAddress::Kind::fd;
  } else {
    throw ConfigError("invalid host " + raw + ": expected unix://PATH, tcp://HOST:PORT or fd://");
  }
  return h;
}

// One configuration directive: its flag spellings, its daemon.json key, and how to apply a value.
struct Directive {
  std::vector<std::string> flags;
  std::string key;  // empty: flag only
  bool takesValue;
  bool repeatable;
  std::function<void(Config&, const json&)> apply;
};

std::string asString(const std::string& key, const json& v) {
  if (!v.is_string()) throw ConfigError("invalid value for \"" + key + "\": expected a string");
  return v.get<std::string>();
}

bool asBool(const std::string& key, const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
  }
  throw ConfigError("invalid value for \"" + key + "\": expected true or false");
}

int asInt(const std::string& key, const json& v) {
  if (v.is_number_integer()) return v.get<int>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    size_t used = 0;
    try {
      int n = std::stoi(s, &used);
      if (used == s.size()) return n;
    } catch (const std::exception&) {
    }
  }
  throw ConfigError("invalid value for \"" + key + "\": expected an integer");
}

std::string absolutePath(const std::string& key, const json& v) {
  std::string s = asString(key, v);
  if (s.empty() || s.front() != '/') {
    throw ConfigError("invalid value for \"" + key + "\": " + s + " is not an absolute path");
  }
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool validIpv4Cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  in_addr a{};
  if (inet_pton(AF_INET, s.substr(0, slash).c_str(), &a) != 1) return false;
  std::string bits = s.substr(slash + 1);
  if (bits.empty() || bits.size() > 2 || bits.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(bits) <= 32;
}

const std::vector<Directive>& directives() {
  static const std::vector<Directive> table = {
      {{"--data-root", "-g", "--graph"}, "data-root", true, false,
       [](Config& c, const json& v) { c.dataRoot = absolutePath("data-root", v); }},
      {{"--exec-root"}, "exec-root", true, false,
       [](Config& c, const json& v) { c.execRoot = absolutePath("exec-root", v); }},
      {{"-H", "--host"}, "hosts", true, true,
       [](Config& c, const json& v) {
         if (v.is_array()) {
           for (const auto& e : v) c.hosts.push_back(parseHost(asString("hosts", e)));
         } else {
           c.hosts.push_back(parseHost(asString("hosts", v)));
         }
       }},
      {{"-l", "--log-level"}, "log-level", true, false,
       [](Config& c, const json& v) {
         auto s = asString("log-level", v);
         if (!kLogLevels.count(s)) {
           throw ConfigError("invalid value for \"log-level\": " + s +
                             " (expected debug, info, warn, error or fatal)");
         }
         c.logLevel = s;
       }},
      {{"-D", "--debug"}, "debug", false, false,
       [](Config& c, const json& v) {
         if (asBool("debug", v)) c.logLevel = "debug";
       }},
      {{"--containerd"}, "containerd", true, false,
       [](Config& c, const json& v) { c.containerdAddress = absolutePath("containerd", v); }},
      {{"-p", "--pidfile"}, "pidfile", true, false,
       [](Config& c, const json& v) { c.pidfile = absolutePath("pidfile", v); }},
      {{"--config-file"}, "", true, false,
       [](Config& c, const json& v) { c.configFile = absolutePath("config-file", v); }},
      {{"-G", "--group"}, "group", true, false,
       [](Config& c, const json& v) { c.group = asString("group", v); }},
      {{"--live-restore"}, "live-restore", false, false,
       [](Config& c, const json& v) { c.liveRestore = asBool("live-restore", v); }},
      {{"--shutdown-timeout"}, "shutdown-timeout", true, false,
       [](Config& c, const json& v) {
         int n = asInt("shutdown-timeout", v);
         if (n < -1) throw ConfigError("invalid value for \"shutdown-timeout\": must be -1 or more");
         c.shutdownTimeout = n;
       }},
      {{"--mtu"}, "mtu", true, false,
       [](Config& c, const json& v) {
         int n = asInt("mtu", v);
         if (n < 68 || n > 65535) throw ConfigError("invalid value for \"mtu\": must be between 68 and 65535");
         c.mtu = n;
       }},
      {{"-b", "--bridge"}, "bridge", true, false,
       [](Config& c, const json& v) {
         auto s = asString("bridge", v);
         bool valid = !s.empty() && s.size() <= 15;
         for (char ch : s) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.');
         if (!valid) throw ConfigError("invalid value for \"bridge\": " + s + " is not a valid interface name");
         c.bridge = s;
       }},
      {{"--bip"}, "bip", true, false,
       [](Config& c, const json& v) {
         auto s = asString("bip", v);
         if (!validIpv4Cidr(s)) throw ConfigError("invalid value for \"bip\": " + s + " (expected a.b.c.d/n)");
         c.bip = s;
       }},
      {{"--icc"}, "icc", false, false, [](Config& c, const json& v) { c.icc = asBool("icc", v); }},
      {{"--ip-masq"}, "ip-masq", false, false, [](Config& c, const json& v) { c.ipMasq = asBool("ip-masq", v); }},
      {{"--ip-forward"}, "ip-forward", false, false,
       [](Config& c, const json& v) { c.ipForward = asBool("ip-forward", v); }},
      {{"--default-address-pool"}, "default-address-pools", true, true,
       [](Config& c, const json& v) {
         // A flag gives "base=CIDR,size=N" per use; the file a list of {"base", "size"}.
         auto add = [&](const json& e) {
           Config::AddressPool pool;
           if (e.is_string()) {
             std::string text = e.get<std::string>();
             for (size_t at = 0; at <= text.size();) {
               size_t comma = text.find(',', at);
               if (comma == std::string::npos) comma = text.size();
               std::string field = text.substr(at, comma - at);
               if (field.rfind("base=", 0) == 0) pool.base = field.substr(5);
               else if (field.rfind("size=", 0) == 0) pool.size = asInt("default-address-pools", field.substr(5));
               else throw ConfigError("invalid value for \"default-address-pools\": " + text);
               at = comma + 1;
             }
           } else if (e.is_object() && e.contains("base") && e.contains("size")) {
             pool = {asString("default-address-pools", e["base"]), asInt("default-address-pools", e["size"])};
           } else {
             throw ConfigError("invalid value for \"default-address-pools\": each entry needs base and size");
           }
           if (!validIpv4Cidr(pool.base) || pool.size < 1 || pool.size > 32 ||
               pool.size < std::stoi(pool.base.substr(pool.base.find('/') + 1))) {
             throw ConfigError("invalid value for \"default-address-pools\": " + pool.base + " with size " +
                               std::to_string(pool.size));
           }
           c.defaultAddressPools.push_back(pool);
         };
         if (v.is_array()) {
           for (const auto& e : v) add(e);
         } else {
           add(v);
         }
       }},
      {{"--insecure-registry"}, "insecure-registries", true, true,
       [](Config& c, const json& v) {
         auto add = [&](const json& e) {
           std::string s = asString("insecure-registries", e);
           if (s.empty() || s.find("://") != std::string::npos) {
             throw ConfigError("invalid value for \"insecure-registries\": " + s + " (expected host[:port] or a CIDR)");
           }
           c.insecureRegistries.push_back(s);
         };
         if (v.is_array()) {
           for (const auto& e : v) add(e);
         } else {
           add(v);
         }
       }},
      {{"--tls"}, "tls", false, false,
       [](Config& c, const json& v) { c.tls.enabled = asBool("tls", v); }},
      {{"--tlsverify"}, "tlsverify", false, false,
       [](Config& c, const json& v) {
         c.tls.verify = asBool("tlsverify", v);
         c.tls.verifyOff = !c.tls.verify;
       }},
      {{"--tlscacert"}, "tlscacert", true, false,
       [](Config& c, const json& v) { c.tls.caFile = absolutePath("tlscacert", v); }},
      {{"--tlscert"}, "tlscert", true, false,
       [](Config& c, const json& v) { c.tls.certFile = absolutePath("tlscert", v); }},
      {{"--tlskey"}, "tlskey", true, false,
       [](Config& c, const json& v) { c.tls.keyFile = absolutePath("tlskey", v); }},
  };
  return table;
}

const Directive* findFlag(const std::string& flag) {
  for (const auto& d : directives()) {
    for (const auto& f : d.flags) {
      if (f == flag) return &d;
    }
  }
  return nullptr;
}

bool readableFile(const std::string& path) { return readFileIfExists(path).has_value(); }

void validate(Config& c) {
  if (c.hosts.empty()) c.hosts.push_back(parseHost("unix://" + c.execRoot + "/docker.sock"));
  if (c.pidfile.empty()) c.pidfile = c.execRoot + "/berth.pid";
  if (c.dataRoot == c.execRoot) throw ConfigError("data-root and exec-root must differ");
  if (c.tls.verify) c.tls.enabled = true;
  bool anyTcp = false;
  for (const auto& h : c.hosts) {
    if (h.kind != HostAddress::Kind::tcp) continue;
    anyTcp = true;
    if (!c.tls.enabled && !h.isLoopback()) {
      throw ConfigError("refusing to listen on " + h.original +
                        " without TLS: a plain tcp host is allowed only on loopback (set tlsverify, "
                        "tlscacert, tlscert and tlskey)");
    }
    // TLS without client certificates authenticates nobody: whoever reaches the port is root
    // here. dockerd warns and goes on; berth refuses unless told so in as many words.
    if (c.tls.enabled && !c.tls.verify && !c.tls.verifyOff && !h.isLoopback()) {
      throw ConfigError("refusing to listen on " + h.original +
                        " with TLS but no client verification: anyone who reaches it gets root on this machine "
                        "(set tlsverify and tlscacert, or tlsverify=false to accept that)");
    }
  }
  if (c.tls.enabled && anyTcp) {
    if (c.tls.certFile.empty() || c.tls.keyFile.empty()) {
      throw ConfigError("invalid value for \"tlscert\": tls needs both tlscert and tlskey");
    }
    if (c.tls.verify && c.tls.caFile.empty()) {
      throw ConfigError("invalid value for \"tlscacert\": tlsverify needs tlscacert");
    }
    for (auto [key, path] : {std::pair{"tlscacert", c.tls.caFile}, {"tlscert", c.tls.certFile},
                             {"tlskey", c.tls.keyFile}}) {
      if (!path.empty() && !readableFile(path)) {
        throw ConfigError(std::string("invalid value for \"") + key + "\": cannot read " + path);
      }
    }
  }
}

}  // namespace

std::string HostAddress::host() const {
  auto colon = address.rfind(':');
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return h;
}

int HostAddress::port() const { return std::stoi(address.substr(address.rfind(':') + 1)); }

bool HostAddress::isLoopback() const {
  std::string h = host();
  if (h == "localhost" || h == "::1") return true;
  in_addr a{};
  return inet_pton(AF_INET, h.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Config Config::parse(const std::vector<std::string>& args) {
  Config c;
  std::set<std::string> fromFlags;
  std::map<std::string, std::vector<json>> flagValues;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string name = arg, value;
    bool hasInlineValue = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasInlineValue = true;
    }
    const Directive* d = findFlag(name);
    if (!d) throw ConfigError("unknown flag: " + name);
    json v;
    if (d->takesValue) {
      if (!hasInlineValue) {
        if (i + 1 >= args.size()) throw ConfigError("flag needs an argument: " + name);
        value = args[++i];
      }
      v = value;
    } else {
      v = hasInlineValue ? json(value) : json(true);
    }
    d->apply(c, v);
    if (!d->key.empty()) {
      fromFlags.insert(d->key);
      flagValues[d->key].push_back(v);
    }
  }

  if (!c.configFile.empty()) {
    std::string text;
    try {
      text = readFile(c.configFile);
    } catch (const std::exception& e) {
      throw ConfigError("unable to configure the Docker daemon with file " + c.configFile + ": " + e.what());
    }
    json file = parseJsonOrDiscarded(text);
    if (file.is_discarded() || !file.is_object()) {
      throw ConfigError("unable to configure the Docker daemon with file " + c.configFile +
                        ": not a valid JSON object");
    }
    std::vector<std::string> unknown, conflicts;
    for (auto it = file.begin(); it != file.end(); ++it) {
      bool known = false;
      for (const auto& d : directives()) known = known || (!d.key.empty() && d.key == it.key());
      if (!known) unknown.push_back(it.key());
      if (fromFlags.count(it.key())) {
        conflicts.push_back(it.key() + ": (from flag: " + json(flagValues[it.key()]).dump() +
                            ", from file: " + it.value().dump() + ")");
      }
    }
    auto joined = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& e : v) s += (s.empty() ? "" : ", ") + e;
      return s;
    };
    if (!unknown.empty()) {
      throw ConfigError("unable to configure the Docker daemon with file " + c.configFile +
                        ": the following directives don't match any configuration option: " + joined(unknown));
    }
    if (!conflicts.empty()) {
      throw ConfigError("unable to configure the Docker daemon with file " + c.configFile +
                        ": the following directives are specified both as a flag and in the configuration "
                        "file: " + joined(conflicts));
    }
    for (const auto& d : directives()) {
      if (d.key.empty() || !file.contains(d.key)) continue;
      try {
        d.apply(c, file[d.key]);
      } catch (const ConfigError& e) {
        throw ConfigError("unable to configure the Docker daemon with file " + c.configFile + ": " + e.what());
      }
    }
  }
  validate(c);
  return c;
}

std::vector<std::string> Config::toArgs() const {
  std::vector<std::string> a = {"--data-root", dataRoot, "--exec-root", execRoot, "--log-level", logLevel,
                                "--pidfile", pidfile, "--group", group,
                                "--live-restore=" + std::string(liveRestore ? "true" : "false"),
                                "--shutdown-timeout", std::to_string(shutdownTimeout),
                                "--mtu", std::to_string(mtu), "--bridge", bridge,
                                "--icc=" + std::string(icc ? "true" : "false"),
                                "--ip-masq=" + std::string(ipMasq ? "true" : "false"),
                                "--ip-forward=" + std::string(ipForward ? "true" : "false")};
  if (!bip.empty()) {
    a.push_back("--bip");
    a.push_back(bip);
  }
  for (const auto& pool : defaultAddressPools) {
    a.push_back("--default-address-pool");
    a.push_back("base=" + pool.base + ",size=" + std::to_string(pool.size));
  }
  for (const auto& h : hosts) {
    a.push_back("-H");
    a.push_back(h.original);
  }
  for (const auto& r : insecureRegistries) {
    a.push_back("--insecure-registry");
    a.push_back(r);
  }
  if (!containerdAddress.empty()) {
    a.push_back("--containerd");
    a.push_back(containerdAddress);
  }
  if (tls.enabled) a.push_back("--tls");
  if (tls.verify) a.push_back("--tlsverify");
  if (tls.verifyOff) a.push_back("--tlsverify=false");
  for (auto [flag, path] : {std::pair{"--tlscacert", tls.caFile}, {"--tlscert", tls.certFile},
                            {"--tlskey", tls.keyFile}}) {
    if (!path.empty()) {
      a.push_back(flag);
      a.push_back(path);
    }
  }
  return a;
}

}  // namespace berth
