#include <algorithm>
#include <csignal>
#include <map>

#include "common/errors.h"
#include "common/go_json_types.h"
#include "services/containerd-bridge/container_config.h"

namespace berth::bridge {

using json = nlohmann::json;

int parseSignal(const std::string& raw) {
  static const std::map<std::string, int> names = {
      {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"BUS", SIGBUS},   {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
      {"FPE", SIGFPE},   {"HUP", SIGHUP},   {"ILL", SIGILL},   {"INT", SIGINT},   {"IO", SIGIO},
      {"IOT", SIGIOT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE}, {"PROF", SIGPROF}, {"PWR", SIGPWR},
      {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"STKFLT", SIGSTKFLT}, {"STOP", SIGSTOP}, {"SYS", SIGSYS},
      {"TERM", SIGTERM}, {"TRAP", SIGTRAP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
      {"URG", SIGURG},   {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH},
      {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}};
  if (raw.empty()) throw Error(ErrorKind::invalid, "Invalid signal: " + raw);
  bool numeric = raw.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    int n = raw.size() > 3 ? 0 : std::stoi(raw);
    if (n <= 0 || n > 64) throw Error(ErrorKind::invalid, "Invalid signal: " + raw);
    return n;
  }
  std::string name;
  for (char c : raw) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  if (name.rfind("RTMIN+", 0) == 0 || name.rfind("RTMAX-", 0) == 0) {
    std::string off = name.substr(6);
    if (!off.empty() && off.find_first_not_of("0123456789") == std::string::npos && off.size() <= 2) {
      int n = name[2] == 'M' && name[3] == 'I' ? SIGRTMIN + std::stoi(off) : SIGRTMAX - std::stoi(off);
      if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    }
  }
  auto it = names.find(name);
  if (it == names.end()) throw Error(ErrorKind::invalid, "Invalid signal: " + raw);
  return it->second;
}

namespace {

bool emptyList(const json& j, const char* key) {
  return !j.contains(key) || j[key].is_null() || (j[key].is_array() && j[key].empty());
}

std::string envKey(const std::string& kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

std::vector<std::string> stringsOf(const json& j) {
  std::vector<std::string> out;
  if (j.is_array()) {
    for (const auto& e : j) {
      if (e.is_string()) out.push_back(e.get<std::string>());
    }
  }
  return out;
}

json normaliseStringLists(json config) {
  if (!config.is_object()) return config;
  for (const char* key : {"Cmd", "Entrypoint", "Shell"}) {
    if (config.contains(key) && config[key].is_string()) config[key] = json::array({config[key]});
  }
  return config;
}

std::vector<std::string> healthProbeCommand(const json& config) {
  const json& hc = config.value("Healthcheck", json());
  auto test = stringsOf(hc.is_object() ? hc.value("Test", json()) : json());
  if (test.empty() || test[0] == "NONE") return {};
  if (test[0] == "CMD") return {test.begin() + 1, test.end()};
  if (test[0] == "CMD-SHELL" && test.size() > 1) {
    auto shell = stringsOf(config.value("Shell", json()));
    if (shell.empty()) shell = {"/bin/sh", "-c"};
    shell.push_back(test[1]);
    return shell;
  }
  return {};
}

bool hasHealthCheck(const json& config) { return !healthProbeCommand(config).empty(); }

json mergeImageConfig(json c, const json& img) {
  if (!img.is_object()) return c;
  if (c.value("User", "").empty() && img.contains("User")) c["User"] = img["User"];
  // The image's environment first, each entry the container does not set itself.
  json env = json::array();
  std::vector<std::string> own;
  if (c.contains("Env") && c["Env"].is_array()) {
    for (const auto& e : c["Env"]) own.push_back(envKey(e.get<std::string>()));
  }
  if (img.contains("Env") && img["Env"].is_array()) {
    for (const auto& e : img["Env"]) {
      if (!e.is_string()) continue;
      if (std::find(own.begin(), own.end(), envKey(e.get<std::string>())) == own.end()) env.push_back(e);
    }
  }
  if (c.contains("Env") && c["Env"].is_array()) {
    for (const auto& e : c["Env"]) env.push_back(e);
  }
  c["Env"] = env;
  if (emptyList(c, "Entrypoint")) {
    if (emptyList(c, "Cmd") && img.contains("Cmd")) c["Cmd"] = img["Cmd"];
    if ((!c.contains("Entrypoint") || c["Entrypoint"].is_null()) && img.contains("Entrypoint")) {
      c["Entrypoint"] = img["Entrypoint"];
    }
  }
  if (c.value("WorkingDir", "").empty() && img.contains("WorkingDir")) c["WorkingDir"] = img["WorkingDir"];
  if (c.value("StopSignal", "").empty() && img.contains("StopSignal")) c["StopSignal"] = img["StopSignal"];
  // The image's health check, field by field under the container's (dockerd's merge()).
  if (img.contains("Healthcheck") && img["Healthcheck"].is_object()) {
    if (!c.contains("Healthcheck") || !c["Healthcheck"].is_object()) {
      c["Healthcheck"] = img["Healthcheck"];
    } else {
      json& hc = c["Healthcheck"];
      if (emptyList(hc, "Test") && img["Healthcheck"].contains("Test")) hc["Test"] = img["Healthcheck"]["Test"];
      for (const char* field : {"Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}) {
        if (int64Of(hc.value(field, json())).value_or(0) == 0 && img["Healthcheck"].contains(field)) {
          hc[field] = img["Healthcheck"][field];
        }
      }
    }
  }
  for (const char* key : {"Labels", "ExposedPorts", "Volumes"}) {
    if (!img.contains(key) || !img[key].is_object()) continue;
    json merged = img[key];
    if (c.contains(key) && c[key].is_object()) {
      for (auto it = c[key].begin(); it != c[key].end(); ++it) merged[it.key()] = it.value();
    }
    c[key] = merged;
  }
  return c;
}

}  // namespace berth::bridge
