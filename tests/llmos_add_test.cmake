# The one way tests are declared (also used by the kernels-only GPU build).
# llmos_add_test(NAME [WHOLE] SOURCES ... LIBS ... [LABELS ...])
# Each gtest case becomes a CTest test of its own, run in its own process; WHOLE registers the
# executable as one CTest test instead, for scenario suites that share one setup (a node process
# trained once) and run in the order written.
function(llmos_add_test name)
  cmake_parse_arguments(T "WHOLE" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  if(LLMOS_FUZZ) # the sanitizer build: CAF's singletons live until exit, not leaks
    target_sources(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/sanitizer_options.cpp)
  endif()
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${LLMOS_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    LLMOS_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
    LLMOS_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    LLMOS_TEST_DATA_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data")
  # One label per test: gtest_discover_tests splits a list ("kernels;gpu" became LABELS kernels
  # plus a property named gpu, and `ctest -L gpu` found nothing).
  list(LENGTH T_LABELS label_count)
  if(label_count GREATER 1)
    message(FATAL_ERROR "llmos_add_test(${name}): one label only, got ${T_LABELS}")
  endif()
  if(T_WHOLE)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
