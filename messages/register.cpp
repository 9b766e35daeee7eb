#include "llmos/messages/register.hpp"

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/messages/tuner.hpp"

namespace llmos {

void register_messages(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::llmos>();
  // add_message_types<block> registers only the block's own types; add_message_type<T> also
  // registers std::vector<T>, which replies such as the directory's actor list carry between
  // nodes (without it `actors` on a non-seed node failed with unexpected_response).
  cfg.add_message_type<actor_entry>("llmos::actor_entry");
  cfg.add_message_type<node_status>("llmos::node_status");
  cfg.add_message_type<data_record>("llmos::data_record");
  cfg.add_message_type<quarantine_item>("llmos::quarantine_item");
  cfg.add_message_type<pseudo_label_item>("llmos::pseudo_label_item");
  cfg.add_message_type<review_item>("llmos::review_item");
  cfg.add_message_type<prediction_item>("llmos::prediction_item");
  cfg.add_message_type<model_version>("llmos::model_version");
  // Typed handles travel inside messages (a peer asks for the directory), so they need names too.
  cfg.add_message_type<directory_actor>("llmos::directory_actor");
  cfg.add_message_type<node_manager_actor>("llmos::node_manager_actor");
  cfg.add_message_type<device_actor>("llmos::device_actor");
  cfg.add_message_type<dataset_actor>("llmos::dataset_actor");
  cfg.add_message_type<model_actor>("llmos::model_actor");
  cfg.add_message_type<registry_actor>("llmos::registry_actor");
  cfg.add_message_type<server_actor>("llmos::server_actor");
  cfg.add_message_type<scheduler_actor>("llmos::scheduler_actor");
  cfg.add_message_type<tuner_actor>("llmos::tuner_actor");
  // CAF 0.17's add_error_category<T> template does not compile (its lambda has the wrong
  // signature), so the renderer is spelled out.
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           caf::error err{code, error_category, ctx};
                           return describe(err);
                         });
}

} // namespace llmos
