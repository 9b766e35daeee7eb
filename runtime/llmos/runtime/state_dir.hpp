// Where actors keep their state when their config names no folder (the registry, the feedback
// log, the scheduler's and tuner's tables, the HTTP gateway's feedback file, pipeline stores),
// and where the pinned data sets live.
#pragma once

#include <filesystem>
#include <string>

namespace llmos {

/// The data set cache folder (no trailing slash): $LLMOS_DATA_DIR, else the source tree's
/// .cache/data that tools/setup/setup.sh fills.
std::string data_dir();

/// $LLMOS_STATE_DIR when set; else `state` beside data_dir(). Each component uses
/// state_dir()/COMPONENT/NAME.
std::string state_dir();

/// Where an actor keeps its state: `configured` when its config names a folder, else
/// state_dir()/`sub` (beside the data sets' state, never inside the source tree).
std::filesystem::path state_root(const std::string& configured, const std::filesystem::path& sub);

} // namespace llmos
