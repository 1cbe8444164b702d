// The Dockerfile parser, transliterated from buildkit's frontend/dockerfile/parser (parser.go,
// line_parsers.go, split_command.go) so that what it accepts, how it splits arguments and the
// messages it refuses with match dockerd. Byte-oriented: only ASCII whitespace separates words.
#include "common/dockerfile/parser.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "common/errors.h"
#include "common/dockerfile/words.h"
#include "common/json_text.h"

namespace berth::dockerfile {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(std::string message) { throw Error(ErrorKind::invalid, std::move(message)); }

// Go's unicode.IsSpace restricted to ASCII; a line never holds '\n' here.
bool isSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
// The parser's word separator, regexp [\t\v\f\r ].
bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

std::string trimSpace(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && isSpace(s[b])) ++b;
  while (e > b && isSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string toLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Directives {
  char escape = '\\';
  bool done = false;  // directives are only looked for before the first other line
  std::set<std::string> seen;
};

// "# escape=`" and friends, only at the very top (regexp ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$).
void possibleParserDirective(Directives& d, const std::string& line) {
  if (d.done) return;
  auto reSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; };
  size_t i = 0;
  if (line.empty() || line[0] != '#') {
    d.done = true;
    return;
  }
  ++i;
  while (i < line.size() && reSpace(line[i])) ++i;
  size_t nameStart = i;
  if (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) {
    ++i;
    while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
  }
  std::string name = line.substr(nameStart, i - nameStart);
  while (i < line.size() && reSpace(line[i])) ++i;
  if (name.empty() || i >= line.size() || line[i] != '=') {
    d.done = true;
    return;
  }
  ++i;
  size_t e = line.size();
  while (e > i && reSpace(line[e - 1])) --e;
  while (i < e && reSpace(line[i])) ++i;
  std::string value = line.substr(i, e - i);
  std::string key = toLower(name);
  if (value.empty() || (key != "escape" && key != "syntax" && key != "check")) {
    d.done = true;
    return;
  }
  if (!d.seen.insert(key).second) fail("only one " + key + " parser directive can be used");
  if (key == "escape") {
    if (value != "`" && value != "\\") fail("invalid escape token '" + value + "' does not match ` or \\");
    d.escape = value[0];
  }
}

// A line ending in the escape token (optionally followed by blanks) continues on the next one;
// an escaped escape token ("\\") at the end does not.
std::pair<std::string, bool> trimContinuation(const std::string& line, char escape) {
  size_t end = line.size();
  while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == 0 || line[end - 1] != escape) return {line, true};
  if (end >= 2 && line[end - 2] == escape) return {line, true};
  return {line.substr(0, end - 1), false};
}

// The builder flags ("--interval=5s") that lead the arguments, with quotes and backslashes
// removed; returns the rest of the line. A "--" word ends the flags.
std::string extractBuilderFlags(const std::string& line, std::vector<std::string>& words) {
  enum { inSpaces, inWord, inQuote } phase = inSpaces;
  std::string word;
  char quote = 0;
  bool blankOK = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    char ch = pos < line.size() ? line[pos] : 0;
    if (phase == inSpaces) {
      if (pos == line.size()) break;
      if (isSpace(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
      phase = inWord;
    }
    if (pos == line.size()) {
      if (word != "--" && (blankOK || !word.empty())) words.push_back(word);
      break;
    }
    if (phase == inWord) {
      if (isSpace(ch)) {
        phase = inSpaces;
        if (word == "--") return line.substr(pos);
        if (blankOK || !word.empty()) words.push_back(word);
        word.clear();
        blankOK = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blankOK = true;
        phase = inQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    if (ch == quote) {
      phase = inWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = inWord;
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return "";
}

// Splits rest into words at unquoted whitespace, keeping quotes and escapes for the expander.
std::vector<std::string> parseWords(const std::string& rest, char escape) {
  enum { inSpaces, inWord, inQuote } phase = inSpaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blankOK = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    char ch = pos < rest.size() ? rest[pos] : 0;
    if (phase == inSpaces) {
      if (pos == rest.size()) break;
      if (isSpace(ch)) continue;
      phase = inWord;
    }
    if (pos == rest.size()) {
      if (blankOK || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == inWord) {
      if (isSpace(ch)) {
        phase = inSpaces;
        if (blankOK || !word.empty()) words.push_back(word);
        word.clear();
        blankOK = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blankOK = true;
        phase = inQuote;
      }
      if (ch == escape) {
        if (pos + 1 == rest.size()) continue;  // an escape at the very end is dropped
        word += ch;
        ch = rest[++pos];
      }
      word += ch;
      continue;
    }
    if (ch == quote) phase = inWord;
    if (ch == escape && quote != '\'') {
      if (pos + 1 == rest.size()) {
        phase = inWord;
        continue;
      }
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  return words;
}

std::vector<std::string> splitBlanks(const std::string& rest, size_t limit = 0) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    if (limit && out.size() + 1 == limit) {
      out.push_back(rest.substr(i));
      return out;
    }
    size_t j = i;
    while (j < rest.size() && !isBlank(rest[j])) ++j;
    out.push_back(rest.substr(i, j - i));
    if (j == rest.size()) return out;
    while (j < rest.size() && isBlank(rest[j])) ++j;
    i = j;
  }
}

// ENV and LABEL: "k=v k2='v 2'", or the legacy "k the rest of the line". Values keep their quotes
// until expansion.
void parseNameVal(Node& n, const std::string& rest, const char* what, char escape) {
  auto words = parseWords(rest, escape);
  if (words.empty()) return;
  if (words[0].find('=') == std::string::npos) {
    auto parts = splitBlanks(rest, 2);
    if (parts.size() < 2) fail(std::string(what) + " must have two arguments");
    n.args = {parts[0], parts[1]};
    return;
  }
  for (const auto& w : words) {
    auto eq = w.find('=');
    if (eq == std::string::npos) {
      fail("Syntax error - can't find = in " + goQuote(w) + ". Must be of the form: name=value");
    }
    n.args.push_back(w.substr(0, eq));
    n.args.push_back(w.substr(eq + 1));
  }
}

// A JSON array of strings; nullopt when rest is not valid JSON at all (dockerd then falls back
// to the shell form), an error when it is an array holding something other than strings.
std::optional<std::vector<std::string>> parseJsonArray(const std::string& rest) {
  size_t b = 0;
  while (b < rest.size() && isSpace(rest[b])) ++b;
  if (b == rest.size() || rest[b] != '[') return std::nullopt;
  auto doc = parseJsonOrDiscarded(rest);
  if (doc.is_discarded() || !doc.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : doc) {
    if (!e.is_string()) fail("when using JSON array syntax, arrays must be comprised of strings only");
    out.push_back(e.get<std::string>());
  }
  return out;
}

void parseMaybeJson(Node& n, const std::string& rest) {
  if (rest.empty()) return;
  if (auto array = parseJsonArray(rest)) {
    n.args = std::move(*array);
    n.json = true;
  } else {
    n.args = {rest};
  }
}

void parseMaybeJsonToList(Node& n, const std::string& rest) {
  if (auto array = parseJsonArray(rest)) {
    n.args = std::move(*array);
    n.json = true;
  } else if (!rest.empty()) {
    n.args = splitBlanks(rest);
  }
}

Node newNodeFromLine(const std::string& line, const Directives& d);

// HEALTHCHECK: a type word ("CMD", "NONE") followed by a command in either form.
void parseHealthConfig(Node& n, const std::string& rest) {
  size_t sep = 0;
  while (sep < rest.size() && !isSpace(rest[sep])) ++sep;
  if (sep == 0) return;
  size_t next = sep;
  while (next < rest.size() && isSpace(rest[next])) ++next;
  Node command;
  parseMaybeJson(command, rest.substr(next));
  n.args = {rest.substr(0, sep)};
  n.args.insert(n.args.end(), command.args.begin(), command.args.end());
  n.json = command.json;
}

// ONBUILD: the trigger is parsed as a line of its own, so its syntax errors surface now.
void parseSubCommand(Node& n, const std::string& rest, const Directives& d) {
  if (rest.empty()) return;
  Node child = newNodeFromLine(rest, d);
  n.args = {child.instruction};
  n.args.insert(n.args.end(), child.args.begin(), child.args.end());
}

Node newNodeFromLine(const std::string& line, const Directives& d) {
  std::string trimmed = trimSpace(line);
  size_t end = 0;
  while (end < trimmed.size() && !isBlank(trimmed[end])) ++end;
  Node n;
  n.instruction = trimmed.substr(0, end);
  n.original = line;
  std::string rest;
  if (end < trimmed.size()) {
    size_t start = end;
    while (start < trimmed.size() && isBlank(trimmed[start])) ++start;
    rest = trimSpace(extractBuilderFlags(trimmed.substr(start), n.flags));
  }
  // Every instruction dockerd's parser knows gets its own argument parser, even those commit
  // refuses, so that a syntax error wins over "not a valid change command" as it does there.
  std::string cmd = toLower(n.instruction);
  if (cmd == "env" || cmd == "label") {
    parseNameVal(n, rest, cmd == "env" ? "ENV" : "LABEL", d.escape);
  } else if (cmd == "cmd" || cmd == "entrypoint" || cmd == "run" || cmd == "shell") {
    parseMaybeJson(n, rest);
  } else if (cmd == "volume" || cmd == "add" || cmd == "copy") {
    parseMaybeJsonToList(n, rest);
  } else if (cmd == "expose" || cmd == "from") {
    if (!rest.empty()) n.args = splitBlanks(rest);
  } else if (cmd == "healthcheck") {
    parseHealthConfig(n, rest);
  } else if (cmd == "onbuild") {
    parseSubCommand(n, rest, d);
  } else if (cmd == "stopsignal" || cmd == "user" || cmd == "workdir" || cmd == "maintainer") {
    if (!rest.empty()) n.args = {rest};
  }
  return n;
}

std::string trimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string trimLeadingSpace(const std::string& s) {
  size_t b = 0;
  while (b < s.size() && isSpace(s[b])) ++b;
  return s.substr(b);
}

}  // namespace

Dockerfile parse(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size() - 1;
    lines.push_back(text.substr(start, nl - start + 1));
    start = nl + 1;
  }
  if (!lines.empty() && lines[0].rfind("\xEF\xBB\xBF", 0) == 0) lines[0].erase(0, 3);

  Directives d;
  Dockerfile out;
  for (size_t i = 0; i < lines.size();) {
    std::string token = trimLeadingSpace(trimNewline(lines[i++]));
    possibleParserDirective(d, token);
    if (!token.empty() && token[0] == '#') token.clear();
    auto [line, endOfLine] = trimContinuation(token, d.escape);
    if (endOfLine && line.empty()) continue;
    while (!endOfLine && i < lines.size()) {
      std::string next = trimNewline(lines[i++]);
      possibleParserDirective(d, next);
      std::string lead = trimLeadingSpace(next);
      if (lead.empty() || lead[0] == '#') continue;  // comments and empty lines inside a continuation
      auto [piece, eol] = trimContinuation(next, d.escape);
      line += piece;
      endOfLine = eol;
    }
    out.nodes.push_back(newNodeFromLine(line, d));
  }
  if (out.nodes.empty()) fail("file with no instructions");
  out.escape = d.escape;
  return out;
}

}  // namespace berth::dockerfile
