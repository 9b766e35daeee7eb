// Where actors keep their state when their config names no folder: the registry, the feedback
// log, the scheduler's and tuner's tables, the HTTP gateway's feedback file, pipeline stores.
#pragma once

#include <string>

namespace llmos {

/// $LLMOS_STATE_DIR when set; else `state` beside the data set cache ($LLMOS_DATA_DIR, else the
/// source tree's .cache/data that tools/setup/setup.sh fills). Each component uses
/// state_dir()/COMPONENT/NAME.
std::string state_dir();

} // namespace llmos
