// Where the pinned data sets live: $LLMOS_DATA_DIR, else the source tree's .cache/data that
// tools/setup/setup.sh fills. Tests skip with a message when a set is absent.
#pragma once

#include <string>

#include "llmos/runtime/state_dir.hpp"

namespace llmos::dataset {

/// The data set cache folder (no trailing slash): runtime's, named here for the data set code.
using llmos::data_dir;

/// data_dir() + "/" + relative, or "" when that path does not exist.
std::string data_path(const std::string& relative);

} // namespace llmos::dataset
