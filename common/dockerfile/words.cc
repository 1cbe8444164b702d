// Dockerfile word expansion, transliterated from buildkit's frontend/dockerfile/shell/lex.go so
// that quoting, substitution and the error messages match dockerd's builder. Byte-oriented: the
// characters with meaning are ASCII, and other bytes pass through unchanged.
#include "common/dockerfile/words.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "common/errors.h"

namespace berth::dockerfile {
namespace {

[[noreturn]] void fail(std::string message) { throw Error(ErrorKind::invalid, std::move(message)); }

// Go's unicode.IsSpace restricted to ASCII.
bool isSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool isDigit(int c) { return c >= '0' && c <= '9'; }
// Variable names are ASCII letters, digits and '_' (Go also takes non-ASCII letters).
bool isNameChar(int c) { return isDigit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

constexpr int kEof = -1;

// A shell-style pattern of ${VAR#pattern}, ${VAR%pattern} and ${VAR/pattern/replacement}: '*'
// matches any run, '?' one character, "\*", "\?" and "\\" match themselves.
struct Glob {
  struct Token {
    enum { literal, one, any } kind;
    char c;
  };
  std::vector<Token> tokens;

  static Glob compile(const std::string& pattern) {
    Glob g;
    for (size_t i = 0; i < pattern.size(); ++i) {
      char c = pattern[i];
      if (c == '*') {
        g.tokens.push_back({Token::any, 0});
      } else if (c == '?') {
        g.tokens.push_back({Token::one, 0});
      } else if (c == '\\') {
        // "\}" and "\/" only protect the delimiters of ${...}; the backslash is not part of it.
        if (i + 1 < pattern.size() && (pattern[i + 1] == '}' || pattern[i + 1] == '/')) continue;
        char e = i + 1 < pattern.size() ? pattern[++i] : '\0';
        if (e != '*' && e != '?' && e != '\\') {
          fail("invalid pattern (" + pattern + ") in substitution: invalid escape '\\" + std::string(1, e) + "'");
        }
        g.tokens.push_back({Token::literal, e});
      } else {
        g.tokens.push_back({Token::literal, c});
      }
    }
    return g;
  }

  // Which prefixes of s the whole pattern matches: element j is set when it matches s[0, j).
  // One pass, so trimming and replacing stay linear in the value per starting point.
  std::vector<char> matchingPrefixes(std::string_view s) const {
    std::vector<char> reach(s.size() + 1, 0);
    reach[0] = 1;
    for (const auto& t : tokens) {
      std::vector<char> next(s.size() + 1, 0);
      for (size_t j = 0; j <= s.size(); ++j) {
        if (t.kind == Token::any) {
          next[j] = reach[j] || (j > 0 && next[j - 1]);
        } else if (j > 0 && reach[j - 1]) {
          next[j] = t.kind == Token::one || s[j - 1] == t.c;
        }
      }
      reach = std::move(next);
    }
    return reach;
  }

  Glob reversed() const {
    Glob g = *this;
    std::reverse(g.tokens.begin(), g.tokens.end());
    return g;
  }
};

class WordExpander {
 public:
  WordExpander(char escape, const Env& env) : escape_(escape), env_(env) {}
  static constexpr int kMaxNesting = 64;

  // One word: quotes removed, variables substituted, whitespace kept (ProcessWord).
  std::string word(const std::string& text) { return process(text).text; }
  // The same, then split at unquoted whitespace (ProcessWords; only EXPOSE uses it).
  std::vector<std::string> words(const std::string& text) { return process(text).words; }

 private:
  struct Result {
    std::string text;
    std::vector<std::string> words;
  };

  // Collects ProcessWords' words: characters from a substitution split at whitespace, quoted
  // and escaped ones never do.
  struct WordSplitter {
    std::string word;
    std::vector<std::string> words;
    bool inWord = false;
    void addChar(char c) {
      if (isSpace(c)) {
        if (inWord && !word.empty()) {
          words.push_back(word);
          word.clear();
          inWord = false;
        }
      } else {
        addRawChar(c);
      }
    }
    void addRawChar(char c) {
      word += c;
      inWord = true;
    }
    void addString(const std::string& s) {
      for (char c : s) addChar(c);
    }
    void addRawString(const std::string& s) {
      word += s;
      inWord = true;
    }
    std::vector<std::string> take() {
      if (!word.empty()) words.push_back(word);
      word.clear();
      inWord = false;
      return words;
    }
  };

  Result process(const std::string& text) {
    src_ = text;
    pos_ = 0;
    rawEscapes_ = false;
    try {
      return processStopOn(kEof, false);
    } catch (const Error& e) {
      fail("failed to process " + goQuote(text) + ": " + e.what());
    }
  }

  int peek() const { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : kEof; }
  int next() { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_++]) : kEof; }

  std::optional<std::string> lookup(const std::string& name) const {
    auto it = env_.find(name);
    if (it == env_.end()) return std::nullopt;
    return it->second;
  }

  Result processStopOn(int stop, bool rawEscapes) {
    // ${a:-${a:-…}} recurses once per level: bounded, so a hostile --change cannot exhaust the
    // stack of the process that expands it.
    struct Depth {
      int& n;
      explicit Depth(int& d) : n(++d) {}
      ~Depth() { --n; }
    } depth(depth_);
    if (depth_ > kMaxNesting) fail("variable substitutions nested deeper than " + std::to_string(kMaxNesting) + " levels");
    bool saved = rawEscapes_;
    rawEscapes_ = rawEscapes;
    std::string result;
    WordSplitter words;
    bool stopped = false;
    while (peek() != kEof) {
      int ch = peek();
      if (stop != kEof && ch == stop) {
        next();
        stopped = true;
        break;
      }
      if (ch == '$' || ch == '\'' || ch == '"') {
        std::string part = ch == '$' ? dollar() : ch == '\'' ? singleQuote() : doubleQuote();
        result += part;
        if (ch == '$') {
          words.addString(part);
        } else {
          words.addRawString(part);
        }
        continue;
      }
      ch = next();
      if (ch == escape_) {
        if (rawEscapes_) {
          words.addRawChar(static_cast<char>(ch));
          result += static_cast<char>(ch);
        }
        ch = next();
        if (ch == kEof) break;  // an escape at the end of the word is dropped
        words.addRawChar(static_cast<char>(ch));
      } else {
        words.addChar(static_cast<char>(ch));
      }
      result += static_cast<char>(ch);
    }
    rawEscapes_ = saved;
    if (stop != kEof && !stopped) {
      fail("unexpected end of statement while looking for matching " + std::string(1, static_cast<char>(stop)));
    }
    return {result, words.take()};
  }

  // Everything up to the closing quote is literal; a single quote cannot be escaped.
  std::string singleQuote() {
    next();
    std::string out;
    while (true) {
      int ch = next();
      if (ch == kEof) fail("unexpected end of statement while looking for matching single-quote");
      if (ch == '\'') return out;
      out += static_cast<char>(ch);
    }
  }

  // Variables are substituted; the escape token only escapes '"', '$' and itself.
  std::string doubleQuote() {
    next();
    std::string out;
    while (true) {
      int ch = peek();
      if (ch == kEof) fail("unexpected end of statement while looking for matching double-quote");
      if (ch == '"') {
        next();
        return out;
      }
      if (ch == '$') {
        out += dollar();
        continue;
      }
      ch = next();
      if (ch == escape_) {
        if (rawEscapes_) out += static_cast<char>(ch);
        int after = peek();
        if (after == kEof) continue;
        if (after == '"' || after == '$' || after == escape_) ch = next();
      }
      out += static_cast<char>(ch);
    }
  }

  static bool isSpecialParam(int c) {
    return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' || c == '0';
  }

  // A variable name: letters, digits and '_', or a run of digits, or one special parameter.
  std::string name() {
    std::string n;
    while (peek() != kEof) {
      int ch = peek();
      if (n.empty() && isDigit(ch)) {
        while (isDigit(peek())) n += static_cast<char>(next());
        return n;
      }
      if (n.empty() && isSpecialParam(ch)) return std::string(1, static_cast<char>(next()));
      if (!isNameChar(ch)) break;
      n += static_cast<char>(next());
    }
    return n;
  }

  std::string dollar() {
    next();
    if (peek() != '{') {
      std::string n = name();
      if (n.empty()) return "$";
      return lookup(n).value_or("");
    }
    next();
    int first = peek();
    if (first == kEof) fail("syntax error: missing '}'");
    if (first == '{' || first == '}' || first == ':') fail("syntax error: bad substitution");
    std::string n = name();
    int ch = next();
    if (ch == kEof) fail("syntax error: missing '}'");
    if (ch == '}') return lookup(n).value_or("");
    if (ch == '/') return replace(n);
    std::string modifier(1, static_cast<char>(ch));
    bool nullIsUnset = false;
    if (ch == ':') {
      nullIsUnset = true;
      ch = next();
      if (ch == kEof) fail("syntax error: missing '}'");
      modifier += static_cast<char>(ch);
    } else if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%') {
      fail("unsupported modifier (" + modifier + ") in substitution");
    }
    std::string word = untilBrace(ch == '#' || ch == '%');
    auto value = lookup(n);
    bool empty = !value || (nullIsUnset && value->empty());
    switch (ch) {
      case '-':
        return empty ? word : *value;
      case '+':
        return empty ? "" : word;
      case '?':
        if (!value) fail(n + ": " + (word.empty() ? "is not allowed to be unset" : word));
        if (empty) fail(n + ": " + (word.empty() ? "is not allowed to be empty" : word));
        return *value;
      case '#':
      case '%': {
        bool greedy = !word.empty() && word[0] == ch;
        if (greedy) word.erase(0, 1);
        return trim(value.value_or(""), word, greedy, ch == '#');
      }
    }
    fail("unsupported modifier (" + modifier + ") in substitution");
  }

  std::string untilBrace(bool rawEscapes) {
    try {
      return processStopOn('}', rawEscapes).text;
    } catch (const Error&) {
      if (peek() == kEof) fail("syntax error: missing '}'");
      throw;
    }
  }

  // ${VAR#p} / ${VAR##p} drop the shortest / longest matching prefix, ${VAR%p} / ${VAR%%p} suffix.
  static std::string trim(const std::string& value, const std::string& pattern, bool greedy, bool prefix) {
    Glob glob = Glob::compile(pattern);
    std::string subject = value;
    if (!prefix) {
      glob = glob.reversed();
      std::reverse(subject.begin(), subject.end());
    }
    auto hits = glob.matchingPrefixes(subject);
    size_t n = value.size();
    for (size_t k = 0; k <= n; ++k) {
      size_t len = greedy ? n - k : k;
      if (hits[len]) return prefix ? value.substr(len) : value.substr(0, n - len);
    }
    return value;
  }

  // ${VAR/p/r} replaces the first leftmost-longest match of p, ${VAR//p/r} every match.
  std::string replace(const std::string& n) {
    bool all = peek() == '/';
    if (all) next();
    std::string pattern, replacement;
    try {
      pattern = processStopOn('/', true).text;
    } catch (const Error&) {
      if (peek() == kEof) fail("syntax error: missing '/' in ${}");
      throw;
    }
    replacement = untilBrace(true);
    std::string value = lookup(n).value_or("");
    Glob glob = Glob::compile(pattern);
    std::string out;
    size_t pos = 0;
    bool replaced = false;
    std::optional<size_t> lastEnd;
    while (pos <= value.size() && !(replaced && !all)) {
      std::optional<std::pair<size_t, size_t>> match;
      for (size_t s = pos; s <= value.size() && !match; ++s) {
        auto hits = glob.matchingPrefixes(std::string_view(value).substr(s));
        for (size_t len = hits.size(); len-- > 0;) {
          if (len == 0 && lastEnd && *lastEnd == s) continue;  // no empty match right after a match
          if (hits[len]) {
            match = std::make_pair(s, s + len);
            break;
          }
        }
      }
      if (!match) break;
      out += value.substr(pos, match->first - pos) + replacement;
      replaced = true;
      lastEnd = match->second;
      if (match->second == match->first) {
        if (match->first < value.size()) out += value[match->first];
        pos = match->first + 1;
      } else {
        pos = match->second;
      }
    }
    if (pos < value.size()) out += value.substr(pos);
    return out;
  }

  char escape_;
  const Env& env_;
  std::string src_;
  size_t pos_ = 0;
  bool rawEscapes_ = false;
  int depth_ = 0;
};

}  // namespace

std::string expandWord(const std::string& text, char escape, const Env& env) {
  return WordExpander(escape, env).word(text);
}

std::vector<std::string> expandWords(const std::string& text, char escape, const Env& env) {
  return WordExpander(escape, env).words(text);
}

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace berth::dockerfile
