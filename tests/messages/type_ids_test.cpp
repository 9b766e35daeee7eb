// The message types' CAF type IDs: one block, each ID once, and the IDs the wire depends on
// where they have always been.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/type_id.hpp>
#include <gtest/gtest.h>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/messages/tuner.hpp"

namespace llmos {
namespace {

using string_map = std::map<std::string, std::string>;

TEST(type_ids, are_distinct_and_inside_the_llmos_block) {
  const std::vector<caf::type_id_t> ids{
      caf::type_id<pong>::value,
      caf::type_id<node_status>::value,
      caf::type_id<actor_entry>::value,
      caf::type_id<spawn_request>::value,
      caf::type_id<directory_event>::value,
      caf::type_id<device_info>::value,
      caf::type_id<tensor_bytes>::value,
      caf::type_id<string_map>::value,
      caf::type_id<progress_event>::value,
      caf::type_id<dataset_stats>::value,
      caf::type_id<data_record>::value,
      caf::type_id<quarantine_item>::value,
      caf::type_id<stream_request>::value,
      caf::type_id<data_batch>::value,
      caf::type_id<pseudo_label_item>::value,
      caf::type_id<train_request>::value,
      caf::type_id<train_report>::value,
      caf::type_id<generate_request>::value,
      caf::type_id<prediction_item>::value,
      caf::type_id<model_info>::value,
      caf::type_id<std::vector<int32_t>>::value,
      caf::type_id<model_package>::value,
      caf::type_id<publish_request>::value,
      caf::type_id<model_version>::value,
      caf::type_id<alias_event>::value,
      caf::type_id<predict_request>::value,
      caf::type_id<predict_reply>::value,
      caf::type_id<complete_request>::value,
      caf::type_id<complete_reply>::value,
      caf::type_id<server_status>::value,
      caf::type_id<std::vector<model_version>>::value,
      caf::type_id<task_spec>::value,
      caf::type_id<task_status>::value,
      caf::type_id<std::vector<task_status>>::value,
      caf::type_id<study_status>::value,
      caf::type_id<std::vector<study_status>>::value,
      caf::type_id<import_request>::value,
      caf::type_id<sequence_row>::value,
      caf::type_id<std::vector<sequence_row>>::value,
      caf::type_id<review_item>::value,
      caf::type_id<std::vector<review_item>>::value,
  };
  constexpr auto begin = caf::id_block::llmos::begin;
  constexpr auto end = caf::id_block::llmos::end;
  EXPECT_EQ(begin, caf::first_custom_type_id);
  EXPECT_EQ(static_cast<std::size_t>(end - begin), ids.size()) << "a type without a test here";
  std::set<caf::type_id_t> seen;
  for (auto id : ids) {
    EXPECT_GE(id, begin);
    EXPECT_LT(id, end);
    EXPECT_TRUE(seen.insert(id).second) << "type id " << id << " used twice";
  }
  // The IDs are the wire format: appending keeps these, reordering would break old nodes.
  EXPECT_EQ(caf::type_id<pong>::value, begin);
  EXPECT_EQ(caf::type_id<string_map>::value, begin + 7);
  EXPECT_EQ(caf::type_id<pseudo_label_item>::value, begin + 14);
  EXPECT_EQ(caf::type_id<std::vector<int32_t>>::value, begin + 20);
  EXPECT_EQ(caf::type_id<std::vector<model_version>>::value, begin + 30);
  EXPECT_EQ(caf::type_id<std::vector<study_status>>::value, end - 6);
  EXPECT_EQ(caf::type_id<import_request>::value, end - 5);
  EXPECT_EQ(caf::type_id<std::vector<sequence_row>>::value, end - 3);
  EXPECT_EQ(caf::type_id<std::vector<review_item>>::value, end - 1);
  EXPECT_STREQ(caf::type_name<tensor_bytes>::value, "llmos::tensor_bytes");
}

} // namespace
} // namespace llmos
