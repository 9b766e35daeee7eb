// The job table on disk: every task record as JSON, replaced atomically on each change, so a
// scheduler that is killed and started again finds every task it had accepted (running ones go
// back to the queue and resume from their checkpoints).
#pragma once

#include <filesystem>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "scheduler/core/scheduler_core.hpp"

namespace llmos::scheduler {

nlohmann::json to_json(const task_record& t);

/// A record from its JSON; bad_config naming the field when it is malformed.
caf::expected<task_record> record_from_json(const nlohmann::json& j);

/// The table's file content: every record as JSON, in id order.
std::string job_table_text(const task_table& tasks);

/// Writes a table's text (job_table_text) to `path`: atomic replace; the directory is created.
caf::expected<void> write_job_table(const std::filesystem::path& path, const std::string& text);

/// Reads the records at `path`; an absent file is an empty table; a malformed one is an error
/// naming the file and the record, never silently dropped.
caf::expected<std::vector<task_record>> load_job_table(const std::filesystem::path& path);

} // namespace llmos::scheduler
