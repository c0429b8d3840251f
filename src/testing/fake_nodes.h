// FakeNodes: the stand-in for node agents in orch::testing's TestCluster. Internal.
//
// Registers Node objects and plays the kubelet for pods bound to them: Running and Ready
// after the image's start delay, scripted unreadiness and crashes, and the final delete
// of pods marked for deletion. All work runs on the executor (pod informer handler and
// timers); not meant for concurrency beyond that.
#ifndef ORCH_SRC_TESTING_FAKE_NODES_H_
#define ORCH_SRC_TESTING_FAKE_NODES_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

  // Creates the Node objects and starts following pods.
  absl::Status Start(client::SharedInformerFactory& informers);
  void Stop();
  void SetImageBehavior(std::string image, ImageBehavior behavior);

 private:
  struct Running {
    std::string ns, name;
    TimerId timer = 0;
    bool deleting = false;
  };

  void OnPod(const api::v1::Pod& pod);
  void OnPodGone(const api::v1::Pod& pod);
  // The behaviour that decides for the whole pod: its slowest-starting container's image,
  // with never_ready / exit_after if any container has them.
  ImageBehavior BehaviorOf(const api::v1::Pod& pod) const;
  void StartContainers(const std::string& uid);
  void Crash(const std::string& uid);
  // Applies `change` to the pod's current status and writes it (retried on conflict).
  void WriteStatus(const std::string& uid, const std::function<void(api::v1::Pod&)>& change);
  void After(const std::string& uid, absl::Duration delay, void (FakeNodes::*step)(const std::string&));

  client::Client* const client_;
  Executor* const executor_;
  const TestClusterOptions options_;
  std::map<std::string, ImageBehavior> images_;
  StringMap<int> node_index_;      // node name -> index (for pod IPs)
  StringMap<int> next_ip_;         // node name -> next host number
  StringMap<Running> pods_;        // by uid
  std::optional<client::Informer<api::v1::Pod>> informer_;
  client::HandlerId handler_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace orch::testing::internal

#endif  // ORCH_SRC_TESTING_FAKE_NODES_H_
