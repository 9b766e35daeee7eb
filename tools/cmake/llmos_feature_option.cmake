# An optional part of the build that is on exactly when what it needs was found: -DVAR=OFF turns
# it off on a host that has it, and -DVAR=ON on a host without it stops the configure naming the
# package to install, instead of a build that fails later on a missing header or library.
#   llmos_feature_option(LLMOS_WITH_X "doc" FOUND <bool> MISSING "libx was not found"
#                        INSTALL libx-dev [STATUS "what it is"])
function(llmos_feature_option var doc)
  cmake_parse_arguments(F "" "FOUND;MISSING;INSTALL;STATUS" "" ${ARGN})
  if(F_FOUND)
    set(default ON)
  else()
    set(default OFF)
  endif()
  option(${var} "${doc}" ${default})
  if(${var} AND NOT F_FOUND)
    message(FATAL_ERROR "${var} is on but ${F_MISSING}: install ${F_INSTALL} or configure with "
                        "-D${var}=OFF")
  endif()
  if(F_STATUS)
    message(STATUS "llmos: ${F_STATUS} ${${var}}")
  endif()
endfunction()
