#include "dataset/mail_sample.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace llmos::dataset {

std::vector<std::filesystem::path> mail_files(const std::string& root) {
  std::vector<std::filesystem::path> files;
  for (const auto& group : std::filesystem::directory_iterator(root))
    if (group.is_directory())
      for (const auto& f : std::filesystem::directory_iterator(group.path()))
        if (f.path().extension() == ".txt")
          files.push_back(f.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<record> read_mail(const std::vector<std::filesystem::path>& files, std::size_t step) {
  std::vector<record> out;
  for (std::size_t i = 0; i < files.size(); i += step) {
    std::ifstream in{files[i], std::ios::binary};
    std::stringstream raw;
    raw << in.rdbuf();
    record r;
    r.id = files[i].parent_path().filename().string() + "/" + files[i].filename().string();
    r.text = raw.str();
    r.origin.path = files[i].string();
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace llmos::dataset
