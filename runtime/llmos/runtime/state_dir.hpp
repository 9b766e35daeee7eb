// Where actors keep their state when their config names no folder (the registry, the feedback
// log, the scheduler's and tuner's tables, the HTTP gateway's feedback file, pipeline stores),
// and where the pinned data sets live.
#pragma once

#include <string>

namespace llmos {

/// The data set cache folder (no trailing slash): $LLMOS_DATA_DIR, else the source tree's
/// .cache/data that tools/setup/setup.sh fills.
std::string data_dir();

/// $LLMOS_STATE_DIR when set; else `state` beside data_dir(). Each component uses
/// state_dir()/COMPONENT/NAME.
std::string state_dir();

} // namespace llmos
