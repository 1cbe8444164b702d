# Fails the build when a file of a service's public/ folder includes a service header that is
# not itself public: callers link the public part (schema client, plain types) and must never
# reach a service's private implementation through it (docs/architecture.md, "Public parts").
#   cmake -DFILES="a.h|a.cc" -DSTAMP=out.stamp -P check_public_includes.cmake
string(REPLACE "|" ";" files "${FILES}")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "[\"<](services/[^\">]*)[\">]")
      set(included "${CMAKE_MATCH_1}")
      if(NOT included MATCHES "^services/[^/]+/public/")
        message(FATAL_ERROR "${file}: includes ${included}, a private header of a service; "
                            "a public/ folder may include only public/ headers, ipc/ and common/")
      endif()
    endif()
  endforeach()
endforeach()
file(TOUCH "${STAMP}")
