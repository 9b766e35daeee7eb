// The SpamAssassin corpus as the cleaning tests and the data benchmark read it: its *.txt
// messages (one folder per group: easy_ham, hard_ham, spam, ...) in path order, and a sample of
// every n-th of them as records.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/record.hpp"

namespace llmos::dataset {

/// The *.txt files of every group folder under `root`, sorted by path.
std::vector<std::filesystem::path> mail_files(const std::string& root);

/// Files 0, step, 2 * step, ... of `files` as records: id "GROUP/FILE", the raw message as
/// text, the file as origin.
std::vector<record> read_mail(const std::vector<std::filesystem::path>& files, std::size_t step);

} // namespace llmos::dataset
