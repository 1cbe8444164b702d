#include "services/images/image_changes.h"

#include <algorithm>

#include "common/errors.h"

namespace berth::images {
namespace {

using json = nlohmann::json;

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t");
  auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string unquote(std::string s) {
  if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\''))) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

// Splits "a=b c='d e'" into key/value pairs, honouring quotes.
std::vector<std::pair<std::string, std::string>> keyValues(const std::string& args, const std::string& change) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < args.size()) {
    while (i < args.size() && args[i] == ' ') ++i;
    if (i >= args.size()) break;
    std::string token;
    char quote = 0;
    for (; i < args.size() && (quote || args[i] != ' '); ++i) {
      if (!quote && (args[i] == '"' || args[i] == '\'')) quote = args[i];
      else if (quote && args[i] == quote) quote = 0;
      else token += args[i];
    }
    auto eq = token.find('=');
    if (eq == std::string::npos || eq == 0) throw Error(ErrorKind::invalid, "invalid change \"" + change + "\": expected KEY=VALUE");
    out.emplace_back(token.substr(0, eq), token.substr(eq + 1));
  }
  return out;
}

// JSON form (["a","b"]) or shell form ("a b" -> ["/bin/sh","-c","a b"]).
json commandForm(const std::string& args) {
  auto j = json::parse(args, nullptr, false);
  if (j.is_array() && std::all_of(j.begin(), j.end(), [](const json& e) { return e.is_string(); })) return j;
  return json::array({"/bin/sh", "-c", args});
}

}  // namespace

void applyChanges(json& config, const std::vector<std::string>& changes) {
  if (!config.is_object()) config = json::object();
  for (const auto& raw : changes) {
    std::string change = trim(raw);
    if (change.empty()) continue;
    auto space = change.find_first_of(" \t");
    std::string word = change.substr(0, space);
    std::string args = space == std::string::npos ? "" : trim(change.substr(space));
    std::string instruction = word;
    std::transform(instruction.begin(), instruction.end(), instruction.begin(), ::toupper);
    if (args.empty()) throw Error(ErrorKind::invalid, instruction + " requires at least one argument");
    if (instruction == "CMD") {
      config["Cmd"] = commandForm(args);
    } else if (instruction == "ENTRYPOINT") {
      config["Entrypoint"] = commandForm(args);
    } else if (instruction == "WORKDIR") {
      config["WorkingDir"] = unquote(args);
    } else if (instruction == "USER") {
      config["User"] = unquote(args);
    } else if (instruction == "STOPSIGNAL") {
      config["StopSignal"] = unquote(args);
    } else if (instruction == "ENV") {
      std::vector<std::pair<std::string, std::string>> pairs;
      if (args.find('=') == std::string::npos || args.find(' ') < args.find('=')) {
        auto sp = args.find(' ');
        if (sp == std::string::npos) throw Error(ErrorKind::invalid, "ENV names no value: " + change);
        pairs.emplace_back(args.substr(0, sp), trim(args.substr(sp)));
      } else {
        pairs = keyValues(args, change);
      }
      json env = config.value("Env", json::array());
      for (const auto& [k, v] : pairs) {
        env.erase(std::remove_if(env.begin(), env.end(),
                                 [&](const json& e) { return e.get<std::string>().rfind(k + "=", 0) == 0; }),
                  env.end());
        env.push_back(k + "=" + v);
      }
      config["Env"] = env;
    } else if (instruction == "LABEL") {
      json labels = config.value("Labels", json::object());
      if (labels.is_null()) labels = json::object();
      for (const auto& [k, v] : keyValues(args, change)) labels[unquote(k)] = v;
      config["Labels"] = labels;
    } else if (instruction == "EXPOSE") {
      json ports = config.value("ExposedPorts", json::object());
      if (ports.is_null()) ports = json::object();
      std::string port;
      for (size_t i = 0; i <= args.size(); ++i) {
        if (i < args.size() && args[i] != ' ') {
          port += args[i];
          continue;
        }
        if (port.empty()) continue;
        std::string number = port.substr(0, port.find('/'));
        std::string proto = port.find('/') == std::string::npos ? "tcp" : port.substr(port.find('/') + 1);
        if (number.empty() || number.find_first_not_of("0123456789-") != std::string::npos ||
            (proto != "tcp" && proto != "udp" && proto != "sctp")) {
          throw Error(ErrorKind::invalid, "invalid containerPort: " + port);
        }
        ports[number + "/" + proto] = json::object();
        port.clear();
      }
      config["ExposedPorts"] = ports;
    } else if (instruction == "VOLUME") {
      json volumes = config.value("Volumes", json::object());
      if (volumes.is_null()) volumes = json::object();
      json list = json::parse(args, nullptr, false);
      if (!list.is_array()) list = json::array({args});
      for (const auto& v : list) volumes[v.get<std::string>()] = json::object();
      config["Volumes"] = volumes;
    } else {
      throw Error(ErrorKind::invalid, word + " is not a valid change command");
    }
  }
}

}  // namespace berth::images
