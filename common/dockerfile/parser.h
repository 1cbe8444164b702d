// The Dockerfile parser as dockerd's classic builder uses it (buildkit's frontend/dockerfile/parser):
// text to instruction nodes, before any instruction is typed or applied.
#pragma once

#include <string>
#include <vector>

namespace berth::dockerfile {

// One instruction: buildkit's parser.Node, flattened.
struct Node {
  std::string instruction;         // as written ("env", "ENV"); messages repeat it in this case
  std::string original;            // the whole line after continuations were joined
  std::vector<std::string> flags;  // the "--name=value" words before the arguments, unquoted
  // The arguments as the instruction's own grammar splits them; still quoted and unexpanded:
  //  - CMD, ENTRYPOINT, RUN, SHELL: a JSON array's strings, else the whole text as one argument;
  //  - VOLUME, ADD, COPY: a JSON array's strings, else the blank-separated words;
  //  - EXPOSE, FROM: the blank-separated words;
  //  - ENV, LABEL: key, value, key, value... ("k=v" words, or the legacy "k the rest");
  //  - HEALTHCHECK: the type word, then the command as for CMD;
  //  - ONBUILD: the trigger's instruction, then the trigger's own arguments;
  //  - USER, WORKDIR, STOPSIGNAL, MAINTAINER: the whole text as one argument;
  //  - anything else: nothing.
  std::vector<std::string> args;
  bool json = false;  // the arguments were a JSON array (exec form)
};

struct Dockerfile {
  std::vector<Node> nodes;
  char escape = '\\';  // '`' after an "# escape=`" directive
};

// Parses `text`, untrusted client text, as a whole Dockerfile: lines ending in the escape
// character continue on the next, comment and empty lines are dropped, "# escape=" and
// "# syntax=" directives are honoured only at the top. Throws an invalid Error with buildkit's
// message for malformed arguments (a JSON array of non-strings, "ENV must have two arguments",
// a bad escape directive) and "file with no instructions" when there is no instruction.
// Heredocs (RUN <<EOF) are not recognised.
Dockerfile parse(const std::string& text);

}  // namespace berth::dockerfile
