# tools/testing/local_postgres.*: a throwaway PostgreSQL server for the postgres source's tests
# and `llmos-bench data`. Included where either is built; defined once.
if(TARGET PkgConfig::LIBPQ AND NOT TARGET llmos_local_postgres)
  add_library(llmos_local_postgres STATIC ${CMAKE_SOURCE_DIR}/tools/testing/local_postgres.cpp)
  target_include_directories(llmos_local_postgres PUBLIC ${CMAKE_SOURCE_DIR}/tools/testing)
  target_link_libraries(llmos_local_postgres PUBLIC PkgConfig::LIBPQ)
  target_compile_options(llmos_local_postgres PRIVATE ${LLMOS_WARNINGS})
endif()
