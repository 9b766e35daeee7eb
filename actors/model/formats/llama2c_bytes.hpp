// The little-endian fields and piece names llama2.c's checkpoint and tokenizer.bin share, and
// their refusals. Internal to the llama2.c format (llama2c_file.cpp, llama2c_tokenizer.cpp).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "llmos/messages/error.hpp"

namespace llmos::model::llama2c_detail {

inline caf::error refuse(const std::string& where, const std::string& what) {
  return make_llmos_error(error_code::bad_config, where + ": " + what);
}

inline int32_t get_i32(const char* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline void put_i32(std::string& out, int32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

} // namespace llmos::model::llama2c_detail
