// Helpers shared by the PodTopologySpread and InterPodAffinity tests: plugins whose answers
// depend on pods across nodes, so their tests build whole clusters and run every node.
//
//   snapshot.Reset(BuildCluster({MakeNode("a"), MakeNode("b")}, {pod_on_a, pod_on_b}));
//   EXPECT_EQ(FilterOutcome(status), kFits);
#ifndef ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_
#define ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler::testing {

// A Filter outcome as text: "" when the node fits, otherwise "<code>: <reasons>".
inline constexpr char kFits[] = "";

inline std::string FilterOutcome(const Status& status) {
  if (status.ok()) return kFits;
  return std::string(CodeName(status.code())) + ": " + status.Message();
}

// The PodInfo of a pod built by hand (a test failure if it does not parse).
inline PodInfoPtr InfoOf(api::v1::Pod pod) {
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(std::make_shared<const api::v1::Pod>(std::move(pod)));
  if (!info.ok()) {
    ADD_FAILURE() << info.status();
    return nullptr;
  }
  return *std::move(info);
}

// A pod being deleted (metadata.deletionTimestamp set).
inline PodInfoPtr Terminating(const PodBuilder& builder) {
  api::v1::Pod pod = builder.Obj();
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(1);
  return InfoOf(std::move(pod));
}

// NodeInfos of `nodes`, each holding the pods whose spec.nodeName names it.
inline std::vector<NodeInfo> BuildCluster(const std::vector<NodeBuilder>& nodes,
                                          const std::vector<PodInfoPtr>& pods) {
  std::vector<NodeInfo> infos;
  for (const NodeBuilder& node : nodes) {
    std::vector<PodInfoPtr> on_node;
    for (const PodInfoPtr& pod : pods) {
      if (pod->pod().spec().node_name() == node.Obj().metadata().name()) on_node.push_back(pod);
    }
    infos.push_back(node.Info(on_node));
  }
  return infos;
}

// Plugin args written as JSON, as a config file's pluginConfig args would hold them.
inline google::protobuf::Struct JsonStruct(const std::string& json) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_
