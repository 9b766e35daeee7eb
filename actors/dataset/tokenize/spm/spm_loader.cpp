#include <dlfcn.h>
#include <filesystem>
#include <mutex>
#include <unistd.h>

#include "dataset/tokenize/spm/spm_api.hpp"

namespace llmos::dataset::spm {

namespace {

/// Where the module may be: $LLMOS_SPM_MODULE, beside the running program (bin/../lib), the
/// build tree, the install prefix.
std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("LLMOS_SPM_MODULE"))
    out.emplace_back(env);
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    out.push_back((exe.parent_path().parent_path() / "lib" / module_file).string());
  out.emplace_back(LLMOS_SPM_BUILD_PATH);
  out.emplace_back(LLMOS_SPM_INSTALL_PATH);
  return out;
}

} // namespace

const api* load_api(std::string* error) {
  static std::once_flag once;
  static const api* table = nullptr;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : candidates()) {
      if (!std::filesystem::exists(path)) {
        tried += " " + path + " (absent)";
        continue;
      }
      // DEEPBIND: the module's (and SentencePiece's) symbol lookups prefer their own objects,
      // so SentencePiece's bundled protobuf never mixes with LibTorch's; LOCAL keeps them out
      // of everyone else's lookups. The sanitizer build (LLMOS_SPM_NO_DEEPBIND) has no LibTorch
      // to keep apart, and the sanitizer runtimes refuse DEEPBIND.
#ifdef LLMOS_SPM_NO_DEEPBIND
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
      if (!handle) {
        tried += " " + path + " (" + ::dlerror() + ")";
        continue;
      }
      auto entry = reinterpret_cast<entry_fn>(::dlsym(handle, entry_name));
      if (!entry) {
        tried += " " + path + " (no " + entry_name + ")";
        continue;
      }
      table = entry();
      return;
    }
    failure = "the SentencePiece module " + std::string(module_file) + " was not found; tried" +
              tried + " (set LLMOS_SPM_MODULE to its path)";
  });
  if (!table && error)
    *error = failure;
  return table;
}

} // namespace llmos::dataset::spm
