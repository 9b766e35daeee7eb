// The two ends of starting a node process: what the forked child does before it becomes
// llmos-node, and how the launcher learns that the exec failed (the child writes its errno into
// a close-on-exec pipe, so a missing llmos-node is reported with its path instead of as a
// mysterious exit status 127).
#pragma once

#include <sys/types.h>

namespace llmos {

/// The child's side of a fork (async-signal-safe calls only): its own process group, death
/// with the launcher, signals as a fresh process has them, stdin from /dev/null, stdout and
/// stderr into the pipes, then the node program; errno into `exec_fd` when that fails.
[[noreturn]] void exec_child(char** argv, pid_t parent, int out_fd, int err_fd, int exec_fd);

/// The errno the child wrote when its exec failed; 0 once the exec closed the pipe. Closes
/// `fd`.
int exec_failure(int fd);

} // namespace llmos
