// Between the wire and the scheduler core: a submitted task_spec checked field by field and
// turned into a core request, and a core record turned into the task_status users see. Plain
// functions, so refusals are unit-tested without actors.
#pragma once

#include <caf/expected.hpp>

#include "llmos/messages/scheduler.hpp"
#include "scheduler/core/scheduler_core.hpp"

namespace llmos {

/// The checked request, or bad_params naming the task and the field: name (actor-name rules),
/// kind ("train": spec must load, set.FIELD overrides must apply, dataset; "ingest": dataset,
/// one replica, never preempted).
caf::expected<scheduler::task_request> to_task_request(const task_spec& spec);

/// What a user sees of a record; `progress` is the last progress line of its run.
task_status to_task_status(const scheduler::task_record& t, const scheduler::cluster_state& cluster,
                           double now, const std::string& progress);

/// The set.FIELD entries of a task's detail as spec overrides (FIELD -> value).
std::map<std::string, std::string> spec_overrides(const std::map<std::string, std::string>& detail);

} // namespace llmos
