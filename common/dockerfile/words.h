// Word expansion of Dockerfile arguments, as buildkit's shell.Lex does it for dockerd's builder:
// quotes and escapes removed, $VAR and ${VAR...} substituted from an environment.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace berth::dockerfile {

// Variable name to value; a name that is absent is unset, which ${VAR-x} tells from empty.
using Env = std::map<std::string, std::string>;

// One word (shell.Lex.ProcessWord): single quotes are literal; in double quotes only '"', '$' and
// the escape character can be escaped; outside quotes the escape character takes the next one
// literally. Substitutes $VAR, ${VAR}, ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?w} ${VAR?w},
// ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} (p with '*' and '?') and ${VAR/p/r} ${VAR//p/r}; an
// unset variable is empty. Whitespace is kept. `escape` is '\\' or '`' (the escape directive).
// `text` is untrusted client text; throws an invalid Error with dockerd's message,
// "failed to process \"<text>\": <reason>", when it is malformed.
std::string expandWord(const std::string& text, char escape, const Env& env);

// The same expansion split into words at whitespace that is neither quoted, escaped nor part of
// a literal (shell.Lex.ProcessWords), so "$PORTS" with PORTS="80 443" gives two words.
std::vector<std::string> expandWords(const std::string& text, char escape, const Env& env);

// Go's %q, which dockerd's builder uses to quote user text in its messages.
std::string goQuote(std::string_view s);

}  // namespace berth::dockerfile
