# Finds the libraries llmos builds on and wraps the ones without CMake configs into IMPORTED
# targets. Also used by the installed llmosConfig.cmake so consumers get the same targets.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(msgpack CONFIG REQUIRED) # Debian: msgpackc-cxx/msgpack-config.cmake
find_package(yaml-cpp CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)

# Debian's CAF 0.17 ships no CMake config.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
foreach(_caf_lib core io openssl)
  if(NOT TARGET CAF::${_caf_lib})
    find_library(CAF_${_caf_lib}_LIBRARY caf_${_caf_lib} REQUIRED)
    add_library(CAF::${_caf_lib} SHARED IMPORTED)
    set_target_properties(CAF::${_caf_lib} PROPERTIES
      IMPORTED_LOCATION ${CAF_${_caf_lib}_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR})
  endif()
endforeach()
set_property(TARGET CAF::io APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
set_property(TARGET CAF::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::io OpenSSL::SSL)

# The dataset component's libraries (GLOBAL: the installed package re-creates them for consumers).
find_package(ZLIB REQUIRED)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET GLOBAL sentencepiece)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET GLOBAL libutf8proc)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET GLOBAL libxxhash)
# The sqlite source kind (optional: without it the kind says what to install).
find_package(SQLite3 QUIET)
# The postgres source kind (optional, like sqlite): libpq through pkg-config.
pkg_check_modules(LIBPQ QUIET IMPORTED_TARGET GLOBAL libpq)

# LibTorch (Debian 1.13, CPU) for the model component; c10d's Gloo process group needs the
# libgloo-dev headers it includes.
find_package(Torch REQUIRED)
# A CUDA LibTorch (pip torch on a GPU machine) brings libc10_cuda: the engine then runs each job
# under its device actor's CUDA stream (LLMOS_TORCH_CUDA). Debian's LibTorch is CPU-only.
set(LLMOS_TORCH_CUDA OFF)
if(C10_CUDA_LIBRARY)
  set(LLMOS_TORCH_CUDA ON)
endif()
message(STATUS "llmos: LibTorch with CUDA (jobs under their device's stream): ${LLMOS_TORCH_CUDA}")

# Serving: cpp-httplib (Debian ships it as a compiled library, pkg-config only) for the HTTP
# gateway, prometheus-cpp (core metrics + text serializer) for /metrics.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
find_package(prometheus-cpp CONFIG QUIET)
if(NOT prometheus-cpp_FOUND AND NOT TARGET prometheus-cpp::core)
  # Its config demands civetweb and curl (the pull and push parts) even for the core library:
  # a prefix holding only the core (tools/gpu/bundle-deps.sh) is found by hand.
  find_path(PROMETHEUS_CPP_INCLUDE_DIR prometheus/registry.h REQUIRED)
  find_library(PROMETHEUS_CPP_CORE_LIBRARY prometheus-cpp-core REQUIRED)
  add_library(prometheus-cpp::core SHARED IMPORTED)
  set_target_properties(prometheus-cpp::core PROPERTIES
    IMPORTED_LOCATION ${PROMETHEUS_CPP_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${PROMETHEUS_CPP_INCLUDE_DIR})
endif()
