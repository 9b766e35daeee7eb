# The one way a component library is declared: a static library llmos_NAME (alias llmos::NAME,
# exported as NAME) whose headers are included from the folder above its own
# ("registry/registry_actor.hpp"), compiled with the house warnings and installed with the
# package. What it may use is exactly what it links: the layering (messages <- runtime <- a
# component's core <- its actor) is written in these calls, see docs/architecture.md.
#   llmos_library(llmos_NAME SOURCES ... [PUBLIC lib...] [PRIVATE lib...])
function(llmos_library name)
  cmake_parse_arguments(L "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  string(REGEX REPLACE "^llmos_" "" short ${name})
  add_library(${name} STATIC ${L_SOURCES})
  add_library(llmos::${short} ALIAS ${name})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/..> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${name} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE})
  target_compile_options(${name} PRIVATE ${LLMOS_WARNINGS})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${short})
  install(TARGETS ${name} EXPORT llmos_targets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
