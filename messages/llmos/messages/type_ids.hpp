// The one append-only type-ID block of llmos and its atoms. Type IDs and atom names are the
// wire format between node processes: append new entries at the end, never reorder or remove,
// or nodes built from different revisions stop understanding each other.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

namespace llmos {
struct pong;
struct node_status;
struct actor_entry;
struct spawn_request;
struct directory_event;
struct device_info;
struct tensor_bytes;
struct progress_event;
struct dataset_stats;
struct data_record;
struct quarantine_item;
struct stream_request;
struct data_batch;
struct pseudo_label_item;
struct train_request;
struct train_report;
struct generate_request;
struct prediction_item;
struct model_info;
struct model_package;
struct publish_request;
struct model_version;
struct alias_event;
struct predict_request;
struct predict_reply;
struct complete_request;
struct complete_reply;
struct server_status;
struct task_spec;
struct task_status;
struct study_status;
struct import_request;
struct sequence_row;
struct review_item;
} // namespace llmos

CAF_BEGIN_TYPE_ID_BLOCK(llmos, caf::first_custom_type_id)
CAF_ADD_TYPE_ID(llmos, (llmos::pong))
CAF_ADD_TYPE_ID(llmos, (llmos::node_status))
CAF_ADD_TYPE_ID(llmos, (llmos::actor_entry))
CAF_ADD_TYPE_ID(llmos, (llmos::spawn_request))
CAF_ADD_TYPE_ID(llmos, (llmos::directory_event))
CAF_ADD_TYPE_ID(llmos, (llmos::device_info))
CAF_ADD_TYPE_ID(llmos, (llmos::tensor_bytes))
CAF_ADD_TYPE_ID(llmos, (std::map<std::string, std::string>))
CAF_ADD_TYPE_ID(llmos, (llmos::progress_event))
CAF_ADD_TYPE_ID(llmos, (llmos::dataset_stats))
CAF_ADD_TYPE_ID(llmos, (llmos::data_record))
CAF_ADD_TYPE_ID(llmos, (llmos::quarantine_item))
CAF_ADD_TYPE_ID(llmos, (llmos::stream_request))
CAF_ADD_TYPE_ID(llmos, (llmos::data_batch))
CAF_ADD_TYPE_ID(llmos, (llmos::pseudo_label_item))
CAF_ADD_TYPE_ID(llmos, (llmos::train_request))
CAF_ADD_TYPE_ID(llmos, (llmos::train_report))
CAF_ADD_TYPE_ID(llmos, (llmos::generate_request))
CAF_ADD_TYPE_ID(llmos, (llmos::prediction_item))
CAF_ADD_TYPE_ID(llmos, (llmos::model_info))
CAF_ADD_TYPE_ID(llmos, (std::vector<int32_t>))
CAF_ADD_TYPE_ID(llmos, (llmos::model_package))
CAF_ADD_TYPE_ID(llmos, (llmos::publish_request))
CAF_ADD_TYPE_ID(llmos, (llmos::model_version))
CAF_ADD_TYPE_ID(llmos, (llmos::alias_event))
CAF_ADD_TYPE_ID(llmos, (llmos::predict_request))
CAF_ADD_TYPE_ID(llmos, (llmos::predict_reply))
CAF_ADD_TYPE_ID(llmos, (llmos::complete_request))
CAF_ADD_TYPE_ID(llmos, (llmos::complete_reply))
CAF_ADD_TYPE_ID(llmos, (llmos::server_status))
CAF_ADD_TYPE_ID(llmos, (std::vector<llmos::model_version>))
CAF_ADD_TYPE_ID(llmos, (llmos::task_spec))
CAF_ADD_TYPE_ID(llmos, (llmos::task_status))
CAF_ADD_TYPE_ID(llmos, (std::vector<llmos::task_status>))
CAF_ADD_TYPE_ID(llmos, (llmos::study_status))
CAF_ADD_TYPE_ID(llmos, (std::vector<llmos::study_status>))
CAF_ADD_TYPE_ID(llmos, (llmos::import_request))
CAF_ADD_TYPE_ID(llmos, (llmos::sequence_row))
CAF_ADD_TYPE_ID(llmos, (std::vector<llmos::sequence_row>))
CAF_ADD_TYPE_ID(llmos, (llmos::review_item))
CAF_ADD_TYPE_ID(llmos, (std::vector<llmos::review_item>))
CAF_END_TYPE_ID_BLOCK(llmos)

// Atoms (CAF 0.17: at most 10 characters). Grouped by conversation; append only.
CAF_ADD_ATOM(llmos, llmos, ping_atom, "ping")
CAF_ADD_ATOM(llmos, llmos, nodes_atom, "nodes")
CAF_ADD_ATOM(llmos, llmos, actors_atom, "actors")
CAF_ADD_ATOM(llmos, llmos, spawn_atom, "spawn")
CAF_ADD_ATOM(llmos, llmos, stop_atom, "stop")
CAF_ADD_ATOM(llmos, llmos, register_atom, "register")
CAF_ADD_ATOM(llmos, llmos, unregister_atom, "unregister")
CAF_ADD_ATOM(llmos, llmos, lookup_atom, "lookup")
CAF_ADD_ATOM(llmos, llmos, watch_atom, "watch")
CAF_ADD_ATOM(llmos, llmos, dir_event_atom, "dir_event")
CAF_ADD_ATOM(llmos, llmos, directory_atom, "directory")
CAF_ADD_ATOM(llmos, llmos, get_atom, "get")
CAF_ADD_ATOM(llmos, llmos, info_atom, "info")
CAF_ADD_ATOM(llmos, llmos, gelu_atom, "gelu")
CAF_ADD_ATOM(llmos, llmos, tick_atom, "tick")
CAF_ADD_ATOM(llmos, llmos, retry_atom, "retry")
CAF_ADD_ATOM(llmos, llmos, rpc_call_atom, "rpc_call")
CAF_ADD_ATOM(llmos, llmos, ingest_atom, "ingest")
CAF_ADD_ATOM(llmos, llmos, stats_atom, "stats")
CAF_ADD_ATOM(llmos, llmos, sample_atom, "sample")
CAF_ADD_ATOM(llmos, llmos, quarantine_atom, "quarantine")
CAF_ADD_ATOM(llmos, llmos, open_stream_atom, "open_strm")
CAF_ADD_ATOM(llmos, llmos, credit_atom, "credit")
CAF_ADD_ATOM(llmos, llmos, next_batch_atom, "next_batch")
CAF_ADD_ATOM(llmos, llmos, close_stream_atom, "close_strm")
CAF_ADD_ATOM(llmos, llmos, batch_atom, "batch")
CAF_ADD_ATOM(llmos, llmos, progress_atom, "progress")
CAF_ADD_ATOM(llmos, llmos, pseudo_label_atom, "pseudo_lbl")
CAF_ADD_ATOM(llmos, llmos, human_label_atom, "human_lbl")
CAF_ADD_ATOM(llmos, llmos, review_atom, "review")
CAF_ADD_ATOM(llmos, llmos, notify_atom, "notify")
CAF_ADD_ATOM(llmos, llmos, run_job_atom, "run_job")
CAF_ADD_ATOM(llmos, llmos, train_atom, "train")
CAF_ADD_ATOM(llmos, llmos, evaluate_atom, "evaluate")
CAF_ADD_ATOM(llmos, llmos, infer_atom, "infer")
CAF_ADD_ATOM(llmos, llmos, generate_atom, "generate")
CAF_ADD_ATOM(llmos, llmos, token_atom, "token")
CAF_ADD_ATOM(llmos, llmos, save_atom, "save")
CAF_ADD_ATOM(llmos, llmos, load_atom, "load")
CAF_ADD_ATOM(llmos, llmos, quantize_atom, "quantize")
CAF_ADD_ATOM(llmos, llmos, dp_join_atom, "dp_join")
CAF_ADD_ATOM(llmos, llmos, nccl_id_atom, "nccl_id")
CAF_ADD_ATOM(llmos, llmos, nccl_join_atom, "nccl_join")
CAF_ADD_ATOM(llmos, llmos, all_reduce_atom, "allreduce")
CAF_ADD_ATOM(llmos, llmos, publish_atom, "publish")
CAF_ADD_ATOM(llmos, llmos, list_atom, "list")
CAF_ADD_ATOM(llmos, llmos, resolve_atom, "resolve")
CAF_ADD_ATOM(llmos, llmos, fetch_atom, "fetch")
CAF_ADD_ATOM(llmos, llmos, alias_atom, "alias")
CAF_ADD_ATOM(llmos, llmos, delete_atom, "delete")
CAF_ADD_ATOM(llmos, llmos, predict_atom, "predict")
CAF_ADD_ATOM(llmos, llmos, complete_atom, "complete")
CAF_ADD_ATOM(llmos, llmos, status_atom, "status")
CAF_ADD_ATOM(llmos, llmos, deploy_atom, "deploy")
CAF_ADD_ATOM(llmos, llmos, unload_atom, "unload")
CAF_ADD_ATOM(llmos, llmos, export_atom, "export")
CAF_ADD_ATOM(llmos, llmos, tokenizer_atom, "tokenizer")
CAF_ADD_ATOM(llmos, llmos, alerts_atom, "alerts")
CAF_ADD_ATOM(llmos, llmos, metrics_atom, "metrics")
CAF_ADD_ATOM(llmos, llmos, submit_atom, "submit")
CAF_ADD_ATOM(llmos, llmos, cancel_atom, "cancel")
CAF_ADD_ATOM(llmos, llmos, queue_atom, "queue")
CAF_ADD_ATOM(llmos, llmos, wait_atom, "wait")
CAF_ADD_ATOM(llmos, llmos, study_atom, "study")
CAF_ADD_ATOM(llmos, llmos, canary_atom, "canary")
CAF_ADD_ATOM(llmos, llmos, feedback_atom, "feedback")
CAF_ADD_ATOM(llmos, llmos, log_atom, "log")
CAF_ADD_ATOM(llmos, llmos, history_atom, "history")
CAF_ADD_ATOM(llmos, llmos, import_atom, "import")
CAF_ADD_ATOM(llmos, llmos, priority_atom, "priority")
CAF_ADD_ATOM(llmos, llmos, sequences_atom, "sequences")
CAF_ADD_ATOM(llmos, llmos, logprob_atom, "logprob")
CAF_ADD_ATOM(llmos, llmos, adapter_atom, "adapter")
CAF_ADD_ATOM(llmos, llmos, kill_atom, "kill")
CAF_ADD_ATOM(llmos, llmos, restart_atom, "restart")
