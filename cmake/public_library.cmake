# berth_public_library(NAME SOURCES...): the public part of a service (its client library, in
# the service's public/ folder), built with a check that none of its files includes a private
# header of any service (check_public_includes.cmake, re-run whenever one of them changes). The
# library links the IPC layer privately: its headers hide Cap'n Proto from callers.
function(berth_public_library name)
  set(sources ${ARGN})
  list(TRANSFORM sources PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/" OUTPUT_VARIABLE files)
  file(GLOB headers "${CMAKE_CURRENT_SOURCE_DIR}/public/*.h")
  list(APPEND files ${headers})
  string(REPLACE ";" "|" fileArg "${files}")  # one argument through the custom command
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/${name}_public_includes.stamp")
  add_custom_command(OUTPUT "${stamp}"
    COMMAND ${CMAKE_COMMAND} "-DFILES=${fileArg}" "-DSTAMP=${stamp}" -P "${CMAKE_SOURCE_DIR}/cmake/check_public_includes.cmake"
    DEPENDS ${files} "${CMAKE_SOURCE_DIR}/cmake/check_public_includes.cmake"
    COMMENT "Checking that ${name} includes no private header" VERBATIM)
  add_custom_target(${name}_public_includes DEPENDS "${stamp}")
  add_library(${name} STATIC ${sources})
  add_dependencies(${name} ${name}_public_includes)
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE berth_ipc)
endfunction()
