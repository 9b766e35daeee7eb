# `cmake --install` produces a package that other CMake projects consume with
# find_package(llmos): targets llmos::node (embed a node), llmos::actors, llmos::runtime,
# llmos::messages and llmos::kernels.
include(CMakePackageConfigHelpers)
set(LLMOS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/llmos)
install(EXPORT llmos_targets NAMESPACE llmos:: FILE llmosTargets.cmake
        DESTINATION ${LLMOS_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/llmosConfig.cmake.in
  ${CMAKE_BINARY_DIR}/llmosConfig.cmake INSTALL_DESTINATION ${LLMOS_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/llmosConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/llmosConfig.cmake ${CMAKE_BINARY_DIR}/llmosConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/llmos_dependencies.cmake
        DESTINATION ${LLMOS_CMAKE_DIR})
