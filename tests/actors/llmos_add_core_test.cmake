# llmos_add_core_test(COMPONENT): a component's plain classes, tested without actors. Every
# core_*_test.cpp in the calling folder goes into one binary, COMPONENT_core_test, linked against
# llmos_COMPONENT_core; a folder without such files gets none.
function(llmos_add_core_test component)
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/core_*_test.cpp)
  if(sources)
    llmos_add_test(${component}_core_test SOURCES ${sources} LIBS llmos_${component}_core)
  endif()
endfunction()
