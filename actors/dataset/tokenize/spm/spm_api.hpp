// The boundary to SentencePiece. Debian's libsentencepiece carries its own copy of protobuf-lite
// 3.14 and exports those symbols; LibTorch loads protobuf 3.21. Linked into one process, each
// library's calls land in the other's protobuf and the process crashes during start-up. So
// SentencePiece lives in a module of its own (libllmos_spm.so), opened with RTLD_DEEPBIND |
// RTLD_LOCAL: its protobuf calls bind to its own copy and nothing else sees them. This header is
// the module's whole surface: plain functions over standard types (both sides share one
// libstdc++ and one heap, so std::string and std::vector cross safely).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmos::dataset::spm {

/// An opaque loaded SentencePieceProcessor.
struct processor;

struct api {
  /// Trains on `sentences` with SentencePiece's option map; "" and *proto on success, else the
  /// trainer's message.
  std::string (*train)(const std::vector<std::string_view>& sentences,
                       const std::vector<std::pair<std::string, std::string>>& args,
                       std::string* proto);
  /// A processor for a serialized model, or nullptr with *error set.
  processor* (*load)(const std::string& proto, std::string* error);
  void (*release)(processor* p);
  void (*encode)(const processor* p, std::string_view text, std::vector<int>* ids);
  /// "" and *out on success, else the message.
  std::string (*decode)(const processor* p, const std::vector<int>& ids, std::string* out);
  int (*piece_size)(const processor* p);
  /// unk, bos, eos, pad.
  void (*specials)(const processor* p, int out[4]);
};

/// The module's entry point (extern "C" so dlsym finds it by this name).
using entry_fn = const api* (*)();
inline constexpr const char* entry_name = "llmos_spm_api";
inline constexpr const char* module_file = "libllmos_spm.so";

/// Opens the module once per process (see spm_loader.cpp for where it looks); the error says
/// every place tried.
const api* load_api(std::string* error);

} // namespace llmos::dataset::spm
