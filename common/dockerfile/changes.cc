// `docker commit --change`: dockerd's BuildFromConfig in the order dockerd runs it, so that the
// same input fails with the same message. The joined changes are parsed as a Dockerfile
// (dockerfile_parser); every instruction is checked against the commit allow-list, then typed
// and validated (buildkit's instructions/parse.go); then each is applied to the config in turn
// (moby's builder/dockerfile/dispatchers.go), expanding variables (dockerfile_words) where
// dockerd does.
#include "common/dockerfile/changes.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "common/errors.h"
#include "common/dockerfile/parser.h"
#include "common/dockerfile/words.h"

namespace berth::dockerfile {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(std::string message) { throw Error(ErrorKind::invalid, std::move(message)); }

bool isSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool isDigit(int c) { return c >= '0' && c <= '9'; }

std::string trimSpace(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && isSpace(s[b])) ++b;
  while (e > b && isSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string toUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string toLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Typed commands (instructions/parse.go).

enum class Kind { cmd, entrypoint, env, expose, healthcheck, label, onbuild, stopsignal, user, volume, workdir };

const std::map<std::string, Kind> kCommitCommands = {
    {"cmd", Kind::cmd},         {"entrypoint", Kind::entrypoint}, {"env", Kind::env},
    {"expose", Kind::expose},   {"healthcheck", Kind::healthcheck}, {"label", Kind::label},
    {"onbuild", Kind::onbuild}, {"stopsignal", Kind::stopsignal}, {"user", Kind::user},
    {"volume", Kind::volume},   {"workdir", Kind::workdir}};

struct Command {
  Kind kind;
  // CMD / ENTRYPOINT: the command line (nullopt for an empty ENTRYPOINT, which clears it) and
  // whether the shell goes in front. EXPOSE: ports. VOLUME: paths. USER, WORKDIR, STOPSIGNAL: one.
  std::optional<std::vector<std::string>> words;
  bool prependShell = false;
  std::vector<std::pair<std::string, std::string>> pairs;  // ENV, LABEL
  json health;                                             // HEALTHCHECK
  std::string expression;                                  // ONBUILD
};

// BFlags.Parse for string flags: every flag must be known, given once, and carry "=value".
std::map<std::string, std::string> parseFlags(const Node& n, const std::set<std::string>& known = {}) {
  std::map<std::string, std::string> used;
  for (const auto& arg : n.flags) {
    if (arg.rfind("--", 0) != 0) fail("Arg should start with -- : " + arg);
    if (arg == "--") break;
    std::string name = arg.substr(2);
    auto eq = name.find('=');
    std::optional<std::string> value;
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.erase(eq);
    }
    if (!known.count(name)) fail("Unknown flag: " + name);
    if (used.count(name)) fail("Duplicate flag specified: " + name);
    if (!value) fail("Missing a value on flag: " + name);
    used[name] = *value;
  }
  return used;
}

// Go's time.ParseDuration, in nanoseconds.
int64_t parseGoDuration(const std::string& text) {
  auto invalid = [&] { fail("time: invalid duration " + goQuote(text)); };
  constexpr uint64_t kMax = uint64_t{1} << 63;
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) invalid();
  uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !isDigit(s[0])) invalid();
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && isDigit(s[i]); ++i) {
      if (whole > (kMax - 9) / 10) invalid();
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      for (; j < s.size() && isDigit(s[j]); ++j) {
        if (fraction > (kMax - 9) / 10) continue;  // further digits cannot matter
        fraction = fraction * 10 + static_cast<uint64_t>(s[j] - '0');
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !isDigit(s[u])) ++u;
    if (u == 0) fail("time: missing unit in duration " + goQuote(text));
    std::string unitName(s.substr(0, u));
    s.remove_prefix(u);
    static const std::map<std::string, uint64_t> kUnits = {
        {"ns", 1},          {"us", 1000},          {"\xC2\xB5s", 1000}, {"\xCE\xBCs", 1000},
        {"ms", 1000000},    {"s", 1000000000},     {"m", 60000000000},  {"h", 3600000000000}};
    auto unit = kUnits.find(unitName);
    if (unit == kUnits.end()) fail("time: unknown unit " + goQuote(unitName) + " in duration " + goQuote(text));
    if (whole > kMax / unit->second) invalid();
    uint64_t v = whole * unit->second;
    if (fraction > 0) {
      v += static_cast<uint64_t>(static_cast<double>(fraction) * (static_cast<double>(unit->second) / scale));
      if (v > kMax) invalid();
    }
    total += v;
    if (total > kMax) invalid();
  }
  if (negative) return total == kMax ? INT64_MIN : -static_cast<int64_t>(total);
  if (total > kMax - 1) invalid();
  return static_cast<int64_t>(total);
}

// parseOptInterval: 0 when absent or zero, otherwise at least container.MinimumDuration (1ms).
int64_t parseInterval(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto it = flags.find(name);
  if (it == flags.end() || it->second.empty()) return 0;
  int64_t d = parseGoDuration(it->second);
  if (d == 0) return 0;
  if (d < 1000000) fail("Interval " + goQuote(name) + " cannot be less than 1ms");
  return d;
}

// Go's strconv.ParseInt(s, 10, bits); nullopt when s is not a decimal integer at all.
std::optional<int64_t> parseGoInt(const std::string& s, int bits, const char* func) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size() || s.find_first_not_of("0123456789", i) != std::string::npos) return std::nullopt;
  __int128 v = 0;
  for (size_t j = i; j < s.size(); ++j) {
    v = v * 10 + (s[j] - '0');
    if (v > (static_cast<__int128>(1) << 64)) break;
  }
  if (s[0] == '-') v = -v;
  __int128 limit = static_cast<__int128>(1) << (bits - 1);
  if (v >= limit || v < -limit) fail(std::string(func) + ": parsing " + goQuote(s) + ": value out of range");
  return static_cast<int64_t>(v);
}

json parseHealthcheck(const Node& n) {
  if (n.args.empty()) fail("HEALTHCHECK requires at least one argument");
  std::string type = toUpper(n.args[0]);
  std::vector<std::string> rest(n.args.begin() + 1, n.args.end());
  if (type == "NONE") {
    // dockerd reads no flags here, so they are ignored rather than refused.
    if (!rest.empty()) fail("HEALTHCHECK NONE takes no arguments");
    return {{"Test", {"NONE"}}};
  }
  auto flags = parseFlags(n, {"interval", "timeout", "start-period", "start-interval", "retries"});
  if (type != "CMD") fail("Unknown type " + goQuote(type) + " in HEALTHCHECK (try CMD)");
  if (rest.empty()) fail("Missing command after HEALTHCHECK CMD");
  json test = json::array({n.json ? "CMD" : "CMD-SHELL"});
  if (n.json) {
    for (const auto& a : rest) test.push_back(a);
  } else {
    test.push_back(rest[0]);
  }
  json health = {{"Test", test}};
  // Docker's HealthConfig omits zero fields.
  for (const auto& [flag, field] : {std::pair{"interval", "Interval"}, std::pair{"timeout", "Timeout"},
                                    std::pair{"start-period", "StartPeriod"},
                                    std::pair{"start-interval", "StartInterval"}}) {
    if (int64_t d = parseInterval(flags, flag)) health[field] = d;
  }
  if (auto it = flags.find("retries"); it != flags.end() && !it->second.empty()) {
    auto retries = parseGoInt(it->second, 32, "strconv.ParseInt");
    if (!retries) fail("strconv.ParseInt: parsing " + goQuote(it->second) + ": invalid syntax");
    if (*retries < 0) fail("--retries cannot be negative (" + std::to_string(*retries) + ")");
    if (*retries > 0) health["Retries"] = *retries;
  }
  return health;
}

std::vector<std::pair<std::string, std::string>> parseKeyValues(const Node& n, const std::string& what) {
  parseFlags(n);
  if (n.args.empty()) fail(what + " requires at least one argument");
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i + 1 < n.args.size(); i += 2) {
    if (n.args[i].empty()) fail(what + " names can not be blank");
    pairs.emplace_back(n.args[i], n.args[i + 1]);
  }
  return pairs;
}

// The trigger exactly as written, minus the ONBUILD word (regexp (?i)^\s*ONBUILD\s*).
std::string onbuildExpression(const std::string& original) {
  auto reSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
  size_t i = 0;
  while (i < original.size() && reSpace(original[i])) ++i;
  if (toUpper(original.substr(i, 7)) != "ONBUILD") return original;
  i += 7;
  while (i < original.size() && reSpace(original[i])) ++i;
  return original.substr(i);
}

Command parseCommand(const Node& n, Kind kind) {
  Command c{kind, std::nullopt, false, {}, {}, {}};
  auto exactlyOne = [&](const char* what) {
    if (n.args.size() != 1) fail(std::string(what) + " requires exactly one argument");
  };
  switch (kind) {
    case Kind::cmd:
    case Kind::entrypoint:
      parseFlags(n);
      // Shell form is the whole argument text as one string; an empty ENTRYPOINT clears it.
      if (!n.args.empty() || kind == Kind::cmd) {
        c.words = n.json || n.args.empty() ? n.args : std::vector<std::string>{n.args[0]};
      }
      if (kind == Kind::entrypoint && c.words && c.words->empty()) c.words.reset();
      c.prependShell = !n.json;
      break;
    case Kind::env:
      c.pairs = parseKeyValues(n, "ENV");
      break;
    case Kind::label:
      c.pairs = parseKeyValues(n, "LABEL");
      break;
    case Kind::expose:
      if (n.args.empty()) fail("EXPOSE requires at least one argument");
      parseFlags(n);
      c.words = n.args;
      std::sort(c.words->begin(), c.words->end());
      break;
    case Kind::healthcheck:
      c.health = parseHealthcheck(n);
      break;
    case Kind::onbuild: {
      if (n.args.empty()) fail("ONBUILD requires at least one argument");
      parseFlags(n);
      std::string trigger = toUpper(trimSpace(n.args[0]));
      if (trigger == "ONBUILD") fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger == "MAINTAINER" || trigger == "FROM") fail(trigger + " isn't allowed as an ONBUILD trigger");
      c.expression = onbuildExpression(n.original);
      break;
    }
    case Kind::stopsignal:
      exactlyOne("STOPSIGNAL");  // dockerd reads no flags for STOPSIGNAL
      c.words = n.args;
      break;
    case Kind::user:
      exactlyOne("USER");
      parseFlags(n);
      c.words = n.args;
      break;
    case Kind::workdir:
      exactlyOne("WORKDIR");
      parseFlags(n);
      c.words = n.args;
      break;
    case Kind::volume:
      if (n.args.empty()) fail("VOLUME requires at least one argument");
      parseFlags(n);
      c.words.emplace();
      for (const auto& v : n.args) {
        std::string path = trimSpace(v);
        if (path.empty()) fail("VOLUME specified can not be an empty string");
        c.words->push_back(path);
      }
      break;
  }
  return c;
}

// Applying commands to the config (dispatchers.go).

// moby/sys/signal.ParseSignal on Linux: a non-zero integer, or a name with or without "SIG".
// Deliberately dockerd's rule rather than the bridge's parseSignal, which also refuses numbers
// above 64: a commit must accept what dockerd accepts.
void validateSignal(const std::string& raw) {
  // (A flag and a number rather than a std::optional: GCC 12 at -Os takes the optional's
  // flag for uninitialised after the catch, -Wmaybe-uninitialized.)
  bool isNumber = false;
  int64_t number = 0;
  try {
    if (auto parsed = parseGoInt(raw, 64, "strconv.Atoi")) {
      number = *parsed;
      isNumber = true;
    }
  } catch (const Error&) {
    // out of range: Atoi fails, so the text is looked up as a name
  }
  if (isNumber) {
    if (number == 0) fail("Invalid signal: " + raw);
    return;
  }
  static const std::set<std::string> kNames = {
      "ABRT", "ALRM", "BUS",  "CHLD", "CLD",    "CONT", "FPE",  "HUP",  "ILL",  "INT",  "IO",   "IOT",
      "KILL", "PIPE", "POLL", "PROF", "PWR",    "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP",
      "TSTP", "TTIN", "TTOU", "URG",  "USR1",   "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX"};
  std::string name = toUpper(raw);
  if (name.rfind("SIG", 0) == 0) name.erase(0, 3);
  if (kNames.count(name)) return;
  for (int i = 1; i <= 15; ++i) {
    if (name == "RTMIN+" + std::to_string(i)) return;
    if (i <= 14 && name == "RTMAX-" + std::to_string(i)) return;
  }
  fail("Invalid signal: " + raw);
}

// Go's filepath.Join("/", current, requested): lexically cleaned and rooted.
std::string joinWorkdir(const std::string& current, const std::string& requested) {
  std::vector<std::string> parts;
  for (const std::string* piece : {&current, &requested}) {
    size_t start = 0;
    while (start <= piece->size()) {
      size_t slash = piece->find('/', start);
      if (slash == std::string::npos) slash = piece->size();
      std::string seg = piece->substr(start, slash - start);
      if (seg == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!seg.empty() && seg != ".") {
        parts.push_back(seg);
      }
      start = slash + 1;
    }
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

std::optional<std::pair<uint32_t, uint32_t>> parsePortRange(const std::string& text) {
  auto number = [](const std::string& s) -> std::optional<uint32_t> {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    uint32_t v = static_cast<uint32_t>(std::stoul(s));
    if (v > 65535) return std::nullopt;
    return v;
  };
  auto dash = text.find('-');
  auto start = number(text.substr(0, dash));
  auto end = dash == std::string::npos ? start : number(text.substr(dash + 1));
  if (!start || !end || *end < *start) return std::nullopt;
  return std::make_pair(*start, *end);
}

// nat.ParsePortSpec as EXPOSE uses it: "[ip:][hostPort:]port[-end][/proto]"; only the container
// side is recorded.
std::vector<std::string> exposedPorts(const std::string& raw) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t colon = raw.find(':', start);
    parts.push_back(raw.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  std::string ip, hostPort, containerPort = parts.back();
  if (parts.size() >= 2) hostPort = parts[parts.size() - 2];
  for (size_t i = 0; i + 2 < parts.size(); ++i) ip += (i ? ":" : "") + parts[i];
  std::string proto = "tcp";
  auto slash = containerPort.find('/');
  if (slash != std::string::npos) {
    if (slash + 1 < containerPort.size()) proto = containerPort.substr(slash + 1);
    containerPort.erase(slash);
  }
  if (containerPort.empty()) fail("no port specified: " + raw + "<empty>");
  proto = toLower(proto);
  if (proto != "tcp" && proto != "udp" && proto != "sctp") fail("invalid proto: " + proto);
  if (!ip.empty()) {
    std::string bare = ip.size() >= 2 && ip.front() == '[' && ip.back() == ']' ? ip.substr(1, ip.size() - 2) : ip;
    unsigned char buf[16];
    if (inet_pton(AF_INET, bare.c_str(), buf) != 1 && inet_pton(AF_INET6, bare.c_str(), buf) != 1) {
      fail("invalid IP address: ParseAddr(" + goQuote(bare) + "): unable to parse IP");
    }
  }
  auto range = parsePortRange(containerPort);
  if (!range) fail("invalid containerPort: " + containerPort);
  if (!hostPort.empty()) {
    auto host = parsePortRange(hostPort);
    if (!host) fail("invalid hostPort: " + hostPort);
    if (range->second - range->first != host->second - host->first && range->second != range->first) {
      fail("invalid ranges specified for container and host Ports: " + containerPort + " and " + hostPort);
    }
  }
  std::vector<std::string> out;
  for (uint32_t p = range->first; p <= range->second; ++p) out.push_back(std::to_string(p) + "/" + proto);
  return out;
}

// The field as an object (or array), replacing null or a value of the wrong type.
json& fieldOf(json& config, const char* key, bool array) {
  json& f = config[key];
  if (array ? !f.is_array() : !f.is_object()) f = array ? json::array() : json::object();
  return f;
}

// BuildEnvs: KEY=VALUE entries of Env, later ones winning; an entry without '=' is an empty value.
Env envOf(const json& config) {
  Env env;
  auto it = config.find("Env");
  if (it == config.end() || !it->is_array()) return env;
  for (const auto& e : *it) {
    if (!e.is_string()) continue;
    const std::string& s = e.get_ref<const std::string&>();
    auto eq = s.find('=');
    if (eq == std::string::npos) {
      env[s] = "";
    } else {
      env[s.substr(0, eq)] = s.substr(eq + 1);
    }
  }
  return env;
}

std::string stringField(const json& config, const char* key) {
  auto it = config.find(key);
  return it != config.end() && it->is_string() ? it->get<std::string>() : "";
}

class Dispatcher {
 public:
  Dispatcher(json& config, char escape) : config_(config), escape_(escape) {}

  void apply(const Command& c) {
    // Substitution sees Env as it stood before this instruction, so "ENV A=1 B=$A" reads the
    // old A, as in dockerd.
    Env env = envOf(config_);
    auto word = [&](const std::string& text) { return dockerfile::expandWord(text, escape_, env); };
    switch (c.kind) {
      case Kind::cmd:
        config_["Cmd"] = commandLine(c);
        clearArgsEscaped();
        if (c.words && !c.words->empty()) cmdSet_ = true;
        break;
      case Kind::entrypoint:
        config_["Entrypoint"] = commandLine(c);
        clearArgsEscaped();
        // A new entrypoint makes the old arguments meaningless unless these changes set some.
        if (!cmdSet_) config_["Cmd"] = nullptr;
        break;
      case Kind::env: {
        json& list = fieldOf(config_, "Env", true);
        for (const auto& [k, v] : c.pairs) {
          std::string key = word(k);
          std::string entry = key + "=" + word(v);
          auto same = std::find_if(list.begin(), list.end(), [&](const json& e) {
            if (!e.is_string()) return false;
            const auto& s = e.get_ref<const std::string&>();
            return s.substr(0, s.find('=')) == key;
          });
          if (same != list.end()) {
            *same = entry;
          } else {
            list.push_back(entry);
          }
        }
        break;
      }
      case Kind::label: {
        std::vector<std::pair<std::string, std::string>> labels;
        for (const auto& [k, v] : c.pairs) labels.emplace_back(word(k), word(v));
        json& field = fieldOf(config_, "Labels", false);
        for (const auto& [k, v] : labels) field[k] = v;
        break;
      }
      case Kind::expose: {
        // The one instruction where a variable may expand to several words ("80 443").
        std::vector<std::string> specs;
        for (const auto& p : *c.words) {
          auto ws = dockerfile::expandWords(p, escape_, env);
          specs.insert(specs.end(), ws.begin(), ws.end());
        }
        std::vector<std::string> ports;
        for (const auto& s : specs) {
          auto ps = exposedPorts(s);
          ports.insert(ports.end(), ps.begin(), ps.end());
        }
        json& field = fieldOf(config_, "ExposedPorts", false);
        for (const auto& p : ports) field[p] = json::object();
        break;
      }
      case Kind::healthcheck:
        config_["Healthcheck"] = c.health;
        break;
      case Kind::onbuild:
        fieldOf(config_, "OnBuild", true).push_back(c.expression);
        break;
      case Kind::stopsignal: {
        std::string signal = word(c.words->front());
        validateSignal(signal);
        config_["StopSignal"] = signal;
        break;
      }
      case Kind::user:
        config_["User"] = word(c.words->front());
        break;
      case Kind::workdir: {
        std::string path = word(c.words->front());
        if (path.empty()) fail("cannot normalize nothing");
        // An absolute path is kept as written; a relative one is joined to the previous WORKDIR.
        config_["WorkingDir"] = path[0] == '/' ? path : joinWorkdir(stringField(config_, "WorkingDir"), path);
        break;
      }
      case Kind::volume: {
        std::vector<std::string> paths;
        for (const auto& v : *c.words) {
          std::string path = word(v);
          if (path.empty()) fail("VOLUME specified can not be an empty string");
          paths.push_back(path);
        }
        json& field = fieldOf(config_, "Volumes", false);
        for (const auto& p : paths) field[p] = json::object();
        break;
      }
    }
  }

 private:
  // Shell form runs under the config's SHELL when it has one, else /bin/sh -c.
  json commandLine(const Command& c) const {
    if (!c.words) return nullptr;
    json line = json::array();
    if (c.prependShell) {
      auto shell = config_.find("Shell");
      if (shell != config_.end() && shell->is_array() && !shell->empty()) {
        line = *shell;
      } else {
        line = {"/bin/sh", "-c"};
      }
    }
    for (const auto& w : *c.words) line.push_back(w);
    return line;
  }

  // dockerd on Linux records CMD and ENTRYPOINT as not pre-escaped (ArgsEscaped is omitted when false).
  void clearArgsEscaped() {
    if (config_.contains("ArgsEscaped")) config_["ArgsEscaped"] = false;
  }

  json& config_;
  char escape_;
  bool cmdSet_ = false;
};

}  // namespace

void applyChanges(json& config, const std::vector<std::string>& changes) {
  if (changes.empty()) return;
  if (!config.is_null() && !config.is_object()) fail("the config to apply changes to is not a JSON object");

  std::string text;
  for (size_t i = 0; i < changes.size(); ++i) text += (i ? "\n" : "") + changes[i];
  dockerfile::Dockerfile parsed = dockerfile::parse(text);

  std::vector<Kind> kinds;
  for (const auto& n : parsed.nodes) {
    auto kind = kCommitCommands.find(toLower(n.instruction));
    if (kind == kCommitCommands.end()) fail(n.instruction + " is not a valid change command");
    kinds.push_back(kind->second);
  }
  std::vector<Command> commands;
  for (size_t i = 0; i < kinds.size(); ++i) commands.push_back(parseCommand(parsed.nodes[i], kinds[i]));

  json result = config.is_null() ? json::object() : config;
  Dispatcher dispatcher(result, parsed.escape);
  for (const auto& c : commands) dispatcher.apply(c);
  config.swap(result);
}

}  // namespace berth::dockerfile
