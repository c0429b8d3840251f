// FakeNodes: the stand-in for node agents in orch::testing's TestCluster. Internal.
//
// Registers Node objects and plays the kubelet for pods bound to them: Running and Ready
// after the image's start delay, scripted unreadiness and crashes, and the final delete
// of pods marked for deletion. Each node heartbeats as a kubelet does: it creates its
// Lease (kube-node-lease/<node>) and renews it every 10 s, and posts its Ready condition
// (fresh lastHeartbeatTime) every 5 minutes. A failed node (Fail) does none of this until
// it recovers; a deleted Node object stops its fake node for good. All work runs on the
// executor (informer handlers and timers); not meant for concurrency beyond that.
#ifndef ORCH_SRC_TESTING_FAKE_NODES_H_
#define ORCH_SRC_TESTING_FAKE_NODES_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/string_map.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/testing/test_cluster.h"

namespace orch::testing::internal {

class FakeNodes {
 public:
  FakeNodes(client::Client* client, Executor* executor, const TestClusterOptions& options);
  ~FakeNodes();

  // Creates the Node objects and their Leases, starts heartbeating and following pods.
  absl::Status Start(client::SharedInformerFactory& informers);
  void Stop();
  void SetImageBehavior(std::string image, ImageBehavior behavior);

  // The node stops heartbeating and stops serving its pods (no status changes, no starts,
  // deletions not finished). kNotFound for a node that is not one of these; OK if failed
  // already; kFailedPrecondition once its Node object was deleted.
  absl::Status Fail(std::string_view name);
  // Heartbeats resume at once (Lease renewed, Ready posted) and the node serves its pods
  // again: finishes their deletions, reports the running ones as they are (Ready again)
  // and starts the ones bound meanwhile. Errors as Fail; OK if not failed.
  absl::Status Recover(std::string_view name);

 private:
  struct Node {
    int index = 0;
    bool failed = false;
    bool gone = false;  // its Node object was deleted
    std::optional<api::v1::Lease> lease;  // as last written
    TimerId lease_timer = 0;
    TimerId status_timer = 0;
  };
  struct Running {
    std::string ns, name, node;
    std::vector<std::string> images;  // of its containers
    std::string pod_ip;               // once started
    TimerId timer = 0;
    bool deleting = false;
    bool started = false;  // containers started at least once
    absl::Duration start_delay;
    // Status changes not yet written (a write failed): applied in order, with the next
    // change or on `flush_timer`, as the kubelet's status manager retries.
    std::vector<std::function<void(api::v1::Pod&)>> unwritten;
    TimerId flush_timer = 0;
  };

  absl::StatusOr<Node*> Find(std::string_view name);
  bool Serving(const std::string& node) const;
  void RenewLease(const std::string& node);
  void PostNodeStatus(const std::string& node);
  void StopNode(Node& node);
  void OnNodeGone(const api::v1::Node& node);

  void OnPod(const api::v1::Pod& pod);
  void OnPodGone(const api::v1::Pod& pod);
  // The behaviour that decides for the whole pod: its slowest-starting container's image,
  // with never_ready / exit_after if any container has them.
  ImageBehavior BehaviorOf(const Running& pod) const;
  void StartContainers(const std::string& uid);
  // After a recovery: the containers kept running; readiness is reported again.
  void ReportRunning(const std::string& uid);
  void Crash(const std::string& uid);
  void FinishDeletion(const std::string& uid);
  // Applies `change` to the pod's current status and writes it: retried at once on a
  // conflict, and a second later (with any later change) when the store refuses it.
  void WriteStatus(const std::string& uid, std::function<void(api::v1::Pod&)> change);
  void FlushStatus(const std::string& uid);
  void CancelTimers(Running& pod);
  void After(const std::string& uid, absl::Duration delay, void (FakeNodes::*step)(const std::string&));

  client::Client* const client_;
  Executor* const executor_;
  const TestClusterOptions options_;
  std::map<std::string, ImageBehavior> images_;
  StringMap<Node> nodes_;     // by name
  StringMap<int> next_ip_;    // node name -> next host number
  StringMap<Running> pods_;   // by uid
  std::optional<client::Informer<api::v1::Pod>> pod_informer_;
  std::optional<client::Informer<api::v1::Node>> node_informer_;
  client::HandlerId pod_handler_ = 0;
  client::HandlerId node_handler_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace orch::testing::internal

#endif  // ORCH_SRC_TESTING_FAKE_NODES_H_
