# Copies one of containerd's .proto files with what protoc's C++ generator cannot take removed:
# `import weak` lines (gogoproto, containerd's fieldpath plugin) and every option that belongs to
# them. The messages, fields and services are untouched, so the wire format is the same.
# Every copy is generated for protobuf's lite runtime (no descriptors or reflection, which the
# bridge never uses): docs/performance.md, "The bridge on protobuf's lite runtime and gRPC
# without TLS".
#   cmake -DIN=src.proto -DOUT=dst.proto -P strip_gogo.cmake
file(READ "${IN}" text)
string(REGEX REPLACE "import weak \"[^\"]*\";[^\n]*\n" "" text "${text}")
string(REGEX REPLACE "[ \t]*option \\((gogoproto|containerd\\.plugin)\\.[^;]*;[^\n]*\n" "" text "${text}")
string(REGEX REPLACE "[ \t]*\\[[ \t\n]*\\((gogoproto|containerd\\.plugin)\\.[^]]*\\]" "" text "${text}")
string(REGEX REPLACE "\n[ \t]*option optimize_for[^;\n]*;[^\n]*" "" text "${text}")
string(APPEND text "\noption optimize_for = LITE_RUNTIME;\n")
file(WRITE "${OUT}" "${text}")
